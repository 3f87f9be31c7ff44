import { appBundle } from '../../tsup.app';

export default appBundle;
