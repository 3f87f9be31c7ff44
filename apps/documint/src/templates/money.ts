/** Amounts are computed in integer cents so the PDF, the HTML and the Factur-X XML agree to the cent. */
export const toCents = (amount: number) => Math.round(amount * 100);
export const fromCents = (cents: number) => (cents / 100).toFixed(2);
export const formatMoney = (cents: number, currency: string) =>
  `${fromCents(cents).replace(/\B(?=(\d{3})+(?!\d))/g, ',')} ${currency}`;
/** Quantities and rates as written, without float noise (0.1 + 0.2). */
export const formatNumber = (value: number) => String(Number(value.toFixed(4)));
