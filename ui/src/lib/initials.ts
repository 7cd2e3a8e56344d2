// A person's initials for their avatar: the first letter (or digit) of the first two
// words of their name that start with one, so "Bob (bot)" is "B", not "B(".

export function initials(name: string): string {
  const letters = name
    .trim()
    .split(/\s+/)
    .map((word) => [...word][0] ?? '')
    .filter((first) => /[\p{L}\p{N}]/u.test(first))
    .slice(0, 2)
    .join('')
    .toUpperCase();
  return letters || '?';
}
