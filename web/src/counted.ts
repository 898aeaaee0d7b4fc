/**
 * "1 step", "3 steps", "0 apps": a count with its noun, singular only for one. Pure, and free of
 * browser types so that its test runs under Node.
 */
export const counted = (n: number, noun: string) => `${n} ${noun}${n === 1 ? "" : "s"}`;
