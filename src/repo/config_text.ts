/**
 * TOML text as the operator wrote it: a structural scan that finds where each table header and
 * key/value pair sits (offsets and lines), and an in-place edit that sets one value while keeping
 * every other byte, comments and layout included. Parsing values is smol-toml's job; this module
 * only needs token boundaries, and only on text smol-toml has already accepted.
 *
 * @module
 */

/** A `[table]` or `[[array]]` header found by {@link scanToml}. */
export interface ScannedHeader {
  readonly path: string[];
  readonly array: boolean;
  readonly start: number;
  /** Offset of the end of the header's line, before the line break. */
  readonly lineEnd: number;
  readonly line: number;
}

/** A `key = value` pair found by {@link scanToml}; offsets are into the scanned text. */
export interface ScannedPair {
  /** Header path the pair sits under. */
  readonly tablePath: string[];
  readonly keyPath: string[];
  readonly fullPath: string[];
  readonly start: number;
  readonly valueStart: number;
  readonly valueEnd: number;
  /** Offset of the end of the pair's last line, before the line break. */
  readonly lineEnd: number;
  readonly line: number;
}

/** Where things are in a TOML text: its headers and pairs in order. */
export interface TomlScan {
  readonly headers: ScannedHeader[];
  readonly pairs: ScannedPair[];
  /** 1-based line where `path` is defined (a key, a header or a dotted prefix), if any. */
  lineOf(path: readonly string[]): number | undefined;
}

/**
 * Finds the offsets of headers and top-level key/value pairs in TOML that smol-toml has already
 * accepted, so it only needs to know token boundaries (strings, brackets, comments), not semantics.
 */
export function scanToml(text: string): TomlScan {
  const headers: ScannedHeader[] = [];
  const pairs: ScannedPair[] = [];
  const lineStarts = [0];
  for (let i = 0; i < text.length; i++) if (text[i] === "\n") lineStarts.push(i + 1);
  const lineAt = (offset: number) => {
    let lo = 0, hi = lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (lineStarts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  };

  let i = 0;
  const skipSpace = () => {
    while (i < text.length && (text[i] === " " || text[i] === "\t")) i++;
  };
  /** Skips spaces, line breaks and comments. */
  const skipBlank = () => {
    for (;;) {
      while (i < text.length && /[ \t\r\n]/.test(text[i])) i++;
      if (text[i] === "#") skipToLineEnd();
      else return;
    }
  };
  const skipToLineEnd = () => {
    while (i < text.length && text[i] !== "\n" && text[i] !== "\r") i++;
  };
  /** Offset of the end of the current line after an optional trailing comment. */
  const restOfLine = () => {
    skipSpace();
    if (text[i] === "#") skipToLineEnd();
    skipSpace();
    return i;
  };
  const readBasic = (): string => {
    const start = i++;
    while (i < text.length && text[i] !== '"') i += text[i] === "\\" ? 2 : 1;
    i++;
    try {
      return JSON.parse(text.slice(start, i));
    } catch {
      return text.slice(start + 1, i - 1);
    }
  };
  const readLiteral = (): string => {
    const start = ++i;
    while (i < text.length && text[i] !== "'") i++;
    return text.slice(start, i++);
  };
  const readKey = (): string[] => {
    const path: string[] = [];
    for (;;) {
      skipSpace();
      if (text[i] === '"') path.push(readBasic());
      else if (text[i] === "'") path.push(readLiteral());
      else {
        const start = i;
        while (i < text.length && /[A-Za-z0-9_-]/.test(text[i])) i++;
        path.push(text.slice(start, i));
      }
      skipSpace();
      if (text[i] !== ".") return path;
      i++;
    }
  };
  const skipMultiline = (quote: string, escapes: boolean) => {
    i += 3;
    while (i < text.length) {
      if (escapes && text[i] === "\\") {
        i += 2;
        continue;
      }
      if (text.startsWith(quote.repeat(3), i)) {
        i += 3;
        // Up to two quotes may sit right before the closing delimiter.
        for (let extra = 0; extra < 2 && text[i] === quote; extra++) i++;
        return;
      }
      i++;
    }
  };
  const skipValue = (): void => {
    const c = text[i];
    if (text.startsWith('"""', i)) return skipMultiline('"', true);
    if (text.startsWith("'''", i)) return skipMultiline("'", false);
    if (c === '"') return void readBasic();
    if (c === "'") return void readLiteral();
    if (c === "[") {
      i++;
      for (;;) {
        skipBlank();
        if (text[i] === "]" || i >= text.length) return void i++;
        const before = i;
        skipValue();
        skipBlank();
        if (text[i] === ",") i++;
        if (i === before) i++; // never spin, whatever the input
      }
    }
    if (c === "{") {
      i++;
      for (;;) {
        skipBlank();
        if (text[i] === "}" || i >= text.length) return void i++;
        const before = i;
        readKey();
        skipSpace();
        i++; // "="
        skipSpace();
        skipValue();
        skipBlank();
        if (text[i] === ",") i++;
        if (i === before) i++;
      }
    }
    // Number, boolean, date/time: runs to a delimiter; a date may hold one inner space.
    while (i < text.length && !/[,\]}#\r\n]/.test(text[i])) i++;
    while (i > 0 && (text[i - 1] === " " || text[i - 1] === "\t")) i--;
  };

  let table: string[] = [];
  while (i < text.length) {
    skipBlank();
    if (i >= text.length) break;
    const start = i;
    if (text[i] === "[") {
      const array = text[i + 1] === "[";
      i += array ? 2 : 1;
      const path = readKey();
      i += array ? 2 : 1;
      const lineEnd = restOfLine();
      headers.push({ path, array, start, lineEnd, line: lineAt(start) });
      table = path;
      continue;
    }
    const keyPath = readKey();
    skipSpace();
    i++; // "="
    skipSpace();
    const valueStart = i;
    skipValue();
    const valueEnd = i;
    const lineEnd = restOfLine();
    pairs.push({
      tablePath: table,
      keyPath,
      fullPath: [...table, ...keyPath],
      start,
      valueStart,
      valueEnd,
      lineEnd,
      line: lineAt(start),
    });
  }

  const lineOf = (path: readonly string[]) => {
    const pair = pairs.find((p) => samePath(p.fullPath, path));
    if (pair) return pair.line;
    const header = headers.find((h) => samePath(h.path, path));
    if (header) return header.line;
    // Defined implicitly by a longer dotted key or sub-table header.
    const prefix = pairs.find((p) => startsWithPath(p.fullPath, path)) ??
      headers.find((h) => startsWithPath(h.path, path));
    return prefix?.line;
  };
  return { headers, pairs, lineOf };
}

// ---------------------------------------------------------------------------------------------
// Editing text in place

/**
 * Returns `text` with `section.field = literal`, changing as few bytes as possible. `scan` must be
 * {@link scanToml} of `text`, and `literal` a valid TOML value.
 */
export function spliceTomlValue(
  text: string,
  scan: TomlScan,
  section: string,
  field: string,
  literal: string,
): string {
  const eol = text.includes("\r\n") ? "\r\n" : "\n";

  // 1. The key is already there: replace just its value's bytes (comments after it stay).
  const existing = scan.pairs.find((p) => samePath(p.fullPath, [section, field]));
  if (existing) {
    return text.slice(0, existing.valueStart) + literal + text.slice(existing.valueEnd);
  }

  // 2. The section is an inline table `Section = { ... }`: add the key inside it.
  const inline = scan.pairs.find((p) =>
    samePath(p.fullPath, [section]) && text[p.valueStart] === "{"
  );
  if (inline) {
    const close = inline.valueEnd - 1; // the "}"
    let prev = close - 1;
    while (prev > inline.valueStart && /\s/.test(text[prev])) prev--;
    const pair = `${bareOrQuoted(field)} = ${literal}`;
    let insert = text[prev] === "{" || text[prev] === "," ? ` ${pair}` : `, ${pair}`;
    if (prev + 1 === close) insert += " ";
    return text.slice(0, prev + 1) + insert + text.slice(prev + 1);
  }

  // 3. A [Section] header exists: insert after the commented default `#Field = ...` if the
  //    template left one, else after the section's last key, else right after the header.
  const headerIndex = scan.headers.findIndex((h) => !h.array && samePath(h.path, [section]));
  if (headerIndex >= 0) {
    const header = scan.headers[headerIndex];
    const next = scan.headers.find((h) => h.start > header.start);
    const sectionEnd = next ? next.start : text.length;
    const body = text.slice(header.lineEnd, sectionEnd);
    const commentedRe = new RegExp(
      `^([ \\t]*)#[ \\t]*${escapeRegExp(field)}[ \\t]*=[^\\r\\n]*`,
      "gm",
    );
    // A commented line inside a multi-line value (an array spread over lines) is not a place.
    const commented = [...body.matchAll(commentedRe)].find((m) => {
      const at = header.lineEnd + m.index;
      return !scan.pairs.some((p) => p.valueStart <= at && at < p.valueEnd);
    });
    if (commented) {
      const at = header.lineEnd + commented.index + commented[0].length;
      return insertLine(text, at, `${commented[1]}${field} = ${literal}`, eol);
    }
    const last = scan.pairs.filter((p) => p.start > header.start && p.start < sectionEnd).at(-1);
    if (last) {
      return insertLine(
        text,
        last.lineEnd,
        `${indentAt(text, last.start)}${field} = ${literal}`,
        eol,
      );
    }
    return insertLine(text, header.lineEnd, `${field} = ${literal}`, eol);
  }

  // 4. The section exists only as top-level dotted keys (`Store.Path = ...`): add another.
  const dotted = scan.pairs.filter((p) =>
    p.tablePath.length === 0 && p.keyPath.length > 1 && p.keyPath[0] === section
  ).at(-1);
  if (dotted) {
    const line = `${indentAt(text, dotted.start)}${bareOrQuoted(section)}.${
      bareOrQuoted(field)
    } = ${literal}`;
    return insertLine(text, dotted.lineEnd, line, eol);
  }

  // 5. Nothing yet: append a new section.
  const sep = text === "" ? "" : text.endsWith("\n") ? eol : eol + eol;
  return `${text}${sep}[${section}]${eol}${field} = ${literal}${eol}`;
}

/** Inserts `line` as a new line after offset `at` (the end of an existing line). */
function insertLine(text: string, at: number, line: string, eol: string): string {
  if (at >= text.length) {
    return text + (text === "" || text.endsWith("\n") ? "" : eol) + line + eol;
  }
  // `at` is before the existing line break: keep that break, then add ours after the new line.
  return text.slice(0, at) + eol + line + text.slice(at);
}

function indentAt(text: string, start: number): string {
  const lineStart = text.lastIndexOf("\n", start - 1) + 1;
  return /^[ \t]*/.exec(text.slice(lineStart, start))![0];
}

function bareOrQuoted(key: string): string {
  return /^[A-Za-z0-9_-]+$/.test(key) ? key : JSON.stringify(key);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function samePath(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, k) => x === b[k]);
}

function startsWithPath(a: readonly string[], prefix: readonly string[]): boolean {
  return a.length > prefix.length && prefix.every((x, k) => x === a[k]);
}
