/**
 * A small glob matcher for --include/--exclude (no dependency). Syntax: `*` any run of characters
 * except '/', `**` any run including '/', `?` one character except '/', `[abc]` / `[a-z]` / `[!abc]`
 * classes, `{a,b}` alternatives (not nested). Matching is case-insensitive (device names are upper
 * case: `*.heic` matches IMG_0001.HEIC). A pattern without '/' is matched against the file name
 * only; a pattern with '/' against the path relative to /DCIM (e.g. `100APPLE/*.MOV`).
 */
import { InvalidArgumentError } from '../core/errors.ts';

const MAX_PATTERN = 1024;

function escapeRe(c: string): string {
  return /[\\^$.*+?()[\]{}|/]/.test(c) ? `\\${c}` : c;
}

/**
 * Compiles a glob into a RegExp anchored at both ends.
 * @throws InvalidArgumentError (ERR_INVALID_ARG) for an unterminated class/brace or an over-long pattern
 */
export function globToRegExp(pattern: string): RegExp {
  if (pattern.length === 0 || pattern.length > MAX_PATTERN) throw new InvalidArgumentError(`bad glob length: ${pattern.length}`);
  let re = '';
  let inBrace = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') {
      if (pattern[i + 1] === '*') {
        i++;
        if (pattern[i + 1] === '/') {
          i++;
          re += '(?:.*/)?';
        } else re += '.*';
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end < 0) throw new InvalidArgumentError(`unterminated [ in glob ${JSON.stringify(pattern)}`);
      let body = pattern.slice(i + 1, end);
      let neg = false;
      if (body.startsWith('!') || body.startsWith('^')) {
        neg = true;
        body = body.slice(1);
      }
      re += `[${neg ? '^' : ''}${body.replace(/[\\\]^]/g, (m) => `\\${m}`)}]`;
      i = end;
    } else if (c === '{') {
      if (inBrace) throw new InvalidArgumentError(`nested { in glob ${JSON.stringify(pattern)}`);
      inBrace = true;
      re += '(?:';
    } else if (c === '}' && inBrace) {
      inBrace = false;
      re += ')';
    } else if (c === ',' && inBrace) re += '|';
    else if (c === '\\' && i + 1 < pattern.length) re += escapeRe(pattern[++i]!);
    else re += escapeRe(c);
  }
  if (inBrace) throw new InvalidArgumentError(`unterminated { in glob ${JSON.stringify(pattern)}`);
  return new RegExp(`^${re}$`, 'i');
}

/** A compiled glob: `test(relPath)` where relPath is relative to /DCIM with '/' separators. */
export interface Glob {
  source: string;
  test(relPath: string): boolean;
}

/** Compiles a glob (see the module comment for the rules). @throws InvalidArgumentError (ERR_INVALID_ARG) */
export function compileGlob(pattern: string): Glob {
  const re = globToRegExp(pattern);
  const byName = !pattern.includes('/');
  return {
    source: pattern,
    test(relPath: string): boolean {
      const subject = byName ? relPath.slice(relPath.lastIndexOf('/') + 1) : relPath;
      return re.test(subject);
    },
  };
}
