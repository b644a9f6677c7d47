// TOML configuration files: what registries.conf and storage.conf contain parses, and a syntax error names its line.
import { describe, expect, it } from 'vitest';
import { TomlSyntaxError, parseToml } from '../../../src/config/toml';

describe('TOML through smol-toml', () => {
  it('reads what registries.conf files contain', () => {
    const doc = parseToml(`
# comment
unqualified-search-registries = [ "a.io", 'b.io', # trailing comment
]
short-name-mode = "enforcing"
n = 1_000
f = -1.5e2
[[registry]]
prefix = "x.io/team"
location = "mirror.local:5000/x"   # comment
insecure = true
mirror = [ { location = "m1.local", insecure = false }, ]
[[registry]]
location = "y.io"
[[registry.mirror]]
location = "m2.local"
"pull-from-mirror" = "digest-only"
[aliases]
"opensuse/leap" = "registry.opensuse.org/opensuse/leap"
esc = "tab\\there \\u00e9 \\"q\\""
ml = """
line1 \\
   line2"""
lit = '''C:\\raw'''
dotted.key = true
`);
    expect(doc['unqualified-search-registries']).toEqual(['a.io', 'b.io']);
    expect(doc.n).toBe(1000);
    expect(doc.f).toBe(-150);
    const regs = doc.registry as Record<string, unknown>[];
    expect(regs).toHaveLength(2);
    expect(regs[0]).toMatchObject({ prefix: 'x.io/team', location: 'mirror.local:5000/x', insecure: true, mirror: [{ location: 'm1.local', insecure: false }] });
    expect(regs[1]).toEqual({ location: 'y.io', mirror: [{ location: 'm2.local', 'pull-from-mirror': 'digest-only' }] });
    expect(doc.aliases).toEqual({ 'opensuse/leap': 'registry.opensuse.org/opensuse/leap', esc: 'tab\there é "q"', ml: 'line1 line2', lit: 'C:\\raw', dotted: { key: true } });
  });

  it.each([
    ['a = "x"\na = "y"', 2, /redefine/],
    ['a = "unterminated', 1, /unfinished string/],
    ['a = [1, 2', 1, /expected comma/],
    ['[t]\n[t]', 2, /redefine/],
    ['a = "x" b = 2', 1, /end-of-line/],
    ['= 1', 1, /key/],
    ['a = "\\q"', 1, /escape/],
    ['\n\n[[a]]\nb = 1\n[a]\n', 5, /redefine/],
  ])('refuses %j at line %i', (text, line, why) => {
    let err: unknown;
    try { parseToml(text); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(TomlSyntaxError);
    expect((err as TomlSyntaxError).line).toBe(line);
    expect((err as TomlSyntaxError).message).toMatch(why);
  });
});

