// The hostile values: every JSON type and the edge values a field may be
// replaced with. Each is kept as the raw JSON text that goes on the wire, so
// values JavaScript cannot hold (1e400, 2^64, a lone surrogate, -0) reach the
// server exactly as written.
//
// kind: null | bool | int | float | string | array | object | deep | missing
//   int     `int` is its exact value as a BigInt (-0 is 0n)
//   string  `str` is its value; `lone` marks a lone surrogate (valid JSON text,
//           but not a Unicode string), `overText` one over the chat text limit,
//           `huge` one over the 64 KiB data limit
//   deep    nested far past the server's bound of 64 levels
// `unrepresentable`: valid JSON text with no value in the server's types (a
// double past 1.8e308, a string that is not Unicode: RFC 8259 §6, §8.2); the
// server may refuse the whole request as unreadable instead of naming the field

const TEXT_LIMIT = 4000; // --max-text (default)
const DATA_LIMIT = 65536; // --max-data (default)

const v = (label, raw, kind, extra = {}) => ({ label, raw, kind, ...extra });
const int = (raw) => v(raw, raw, 'int', { int: BigInt(raw) });
const str = (label, s, extra = {}) => v(label, JSON.stringify(s), 'string', { str: s, ...extra });

export const MISSING = v('(missing)', undefined, 'missing');

export const VALUES = [
  // every JSON type
  v('null', 'null', 'null'),
  v('true', 'true', 'bool', { bool: true }),
  v('false', 'false', 'bool', { bool: false }),
  int('0'),
  int('1'),
  int('-1'),
  v('1.5', '1.5', 'float'),
  str('""', ''),
  str('"x"', 'x'),
  v('[]', '[]', 'array'),
  v('{}', '{}', 'object'),
  v('[1]', '[1]', 'array'),
  v('{"a":1}', '{"a":1}', 'object'),
  // numbers at and past the edges
  v('1e308', '1e308', 'float'),
  v('-1e308', '-1e308', 'float'),
  v('1e400 (overflows a double)', '1e400', 'float', { unrepresentable: true }),
  v('-0', '-0', 'int', { int: 0n }),
  v('-0.0', '-0.0', 'float'),
  int('9007199254740991'), // 2^53-1
  int('9007199254740992'), // 2^53
  int('9007199254740993'), // 2^53+1
  int('9223372036854775807'), // 2^63-1
  int('9223372036854775808'), // 2^63
  int('18446744073709551616'), // 2^64
  int('-9223372036854775809'), // -2^63-1
  // strings
  str('"1" (a number in a string)', '1'),
  str('"a\\u0000b" (NUL inside)', 'a\u0000b'),
  v('"\\ud800" (lone surrogate)', '"\\ud800"', 'string', { str: '\ud800', lone: true, unrepresentable: true }),
  v('"\\udc00x\\ud800" (swapped surrogates)', '"\\udc00x\\ud800"', 'string', { str: '\udc00x\ud800', lone: true, unrepresentable: true }),
  str(`${TEXT_LIMIT + 1} characters`, 'é'.repeat(TEXT_LIMIT + 1), { overText: true }),
  str('60 KB string (under the data limit: reaches the agent, and the media server)', 'y'.repeat(60 * 1024), { overText: true }),
  str('70 KB string', 'x'.repeat(70 * 1024), { huge: true }),
  // structure
  v('array nested 40 deep (legal)', `${'['.repeat(40)}${']'.repeat(40)}`, 'array'),
  v('10,000 nested arrays', `${'['.repeat(10000)}${']'.repeat(10000)}`, 'deep'),
  v('10,000 nested objects', `${'{"a":'.repeat(10000)}1${'}'.repeat(10000)}`, 'deep'),
  MISSING,
];

if (VALUES.some((x) => x.huge && x.raw.length <= DATA_LIMIT)) throw new Error('the huge string must pass the data limit');

export const isInt = (x) => x.kind === 'int';
export const isString = (x) => x.kind === 'string';
export const isBool = (x) => x.kind === 'bool';
export const isObject = (x) => x.kind === 'object';
