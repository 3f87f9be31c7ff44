// The studio's shared clock; kept as a module of the app so its imports stay local.
export { type Clock, ManualClock, systemClock } from '@studio/service-kit';
