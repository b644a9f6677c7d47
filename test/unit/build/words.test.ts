// Variable substitution and quote removal: a table written from the Dockerfile reference ("Environment replacement", "ENV", "LABEL").
import { describe, expect, it } from 'vitest';
import { expandWord, nameValuePairs, splitWords } from '../../../src/build/words';

const env = new Map([['FOO', '/bar'], ['EMPTY', ''], ['abc', 'hello'], ['NAME', 'world'], ['SPACED', 'a b']]);
const x = (w: string, escape = '\\') => expandWord(w, env, { escape });

describe('expandWord: the reference\'s cases', () => {
  const table: Array<[string, string, string]> = [
    // [input, expected, where the rule comes from]
    ['$FOO', '/bar', '$variable_name'],
    ['${FOO}', '/bar', '${variable_name}'],
    ['${FOO}/baz', '/bar/baz', 'braces delimit the name: ${foo}_bar'],
    ['$FOO_x', '', 'without braces the name runs on over letters, digits and _'],
    ['\\$FOO', '$FOO', 'escaped: \\$foo is literal'],
    ['\\${FOO}', '${FOO}', 'escaped: \\${foo} is literal'],
    ['${UNSET:-word}', 'word', '${variable:-word}: unset → word'],
    ['${EMPTY:-word}', 'word', '${variable:-word}: empty → word'],
    ['${FOO:-word}', '/bar', '${variable:-word}: set → its value'],
    ['${FOO:+word}', 'word', '${variable:+word}: set → word'],
    ['${UNSET:+word}', '', '${variable:+word}: unset → empty'],
    ['${EMPTY:+word}', '', '${variable:+word}: empty → empty'],
    ['${EMPTY-word}', '', '${variable-word}: set (though empty) → value'],
    ['${EMPTY+word}', 'word', '${variable+word}: set (though empty) → word'],
    ['${UNSET:-$NAME}', 'world', 'word may itself contain variables'],
    ['${UNSET:-${NAME}x}', 'worldx', 'nested braces in word'],
    ['$UNSET', '', 'unset → empty'],
    ["'$FOO'", '$FOO', 'single quotes keep $ literal'],
    ['"$FOO"', '/bar', 'double quotes expand and go away'],
    ['"a\\"b"', 'a"b', 'in double quotes \\" is a quote'],
    ['"a\\b"', 'a\\b', 'in double quotes other escapes stay'],
    ['a\\ b', 'a b', 'outside quotes the escape character goes away'],
    ['$', '$', 'a lone dollar stays'],
    ['a$1', 'a$1', '$ before a digit is not a variable'],
    ['"$SPACED"x', 'a bx', 'values are not split'],
  ];
  it.each(table)('%s → %s (%s)', (input, expected) => {
    expect(x(input)).toBe(expected);
  });

  it('honours the escape directive: with `escape=`` the backtick escapes and \\ is plain', () => {
    expect(x('`$FOO', '`')).toBe('$FOO');
    expect(x('C:\\$FOO', '`')).toBe('C:\\/bar');
  });

  it('refuses ${V:?msg} when V is unset, with the message', () => {
    expect(() => x('${UNSET:?must be set}')).toThrow(/UNSET: must be set/);
    expect(x('${FOO:?x}')).toBe('/bar');
  });

  it('refuses unclosed quotes and bad substitutions', () => {
    expect(() => x('"abc')).toThrow(/double quote is not closed/);
    expect(() => x("'abc")).toThrow(/single quote is not closed/);
    expect(() => x('${}')).toThrow(/bad substitution/);
    expect(() => x('${FOO#x}')).toThrow(/unsupported modifier/);
  });

  it('records the variables it read', () => {
    const used = new Set<string>();
    expandWord('${A:-$B} $C', env, { escape: '\\', used });
    expect([...used].sort()).toEqual(['A', 'B', 'C']);
  });
});

describe('name=value words (ENV, LABEL)', () => {
  const pairs = (t: string) => nameValuePairs(t, env, { escape: '\\' }, true);
  it('splits at unquoted whitespace and removes quotes', () => {
    expect(pairs('MY_NAME="John Doe" MY_DOG=Rex\\ The\\ Dog MY_CAT=fluffy')).toEqual([['MY_NAME', 'John Doe'], ['MY_DOG', 'Rex The Dog'], ['MY_CAT', 'fluffy']]);
    expect(pairs('"com.example.vendor"="ACME Incorporated" version=1.0')).toEqual([['com.example.vendor', 'ACME Incorporated'], ['version', '1.0']]);
  });
  it('takes the legacy one-pair form, whose value is the rest of the line', () => {
    expect(pairs('MY_VAR my-value with spaces')).toEqual([['MY_VAR', 'my-value with spaces']]);
  });
  it('expands every value with the variables before the instruction (ENV abc=bye def=$abc → def=hello)', () => {
    expect(pairs('abc=bye def=$abc')).toEqual([['abc', 'bye'], ['def', 'hello']]);
  });
  it('refuses a mix of forms', () => {
    expect(() => pairs('A=1 B')).toThrow(/expected NAME=VALUE/);
  });
  it('splitWords keeps quotes inside words and honours escapes', () => {
    expect(splitWords('a="x y" b=\'p q\' c=d\\ e', '\\')).toEqual(['a="x y"', "b='p q'", 'c=d\\ e']);
  });
});
