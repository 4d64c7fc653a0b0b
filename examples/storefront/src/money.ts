export const money = (m: { amount: string; currency: string }) => `${m.amount} ${m.currency}`;
