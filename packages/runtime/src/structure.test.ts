// The rules a long-lived daemon relies on, checked over the sources: no import cycles in any
// package, the plan compiler never loads the native addon, and the library (everything but cli/)
// has no process-wide side effects and never blocks the event loop on purpose.
import * as fs from 'node:fs';
import * as path from 'node:path';

const PACKAGES = path.resolve(__dirname, '../..');
const RUNTIME_SRC = __dirname;

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' || e.name === 'dist' ? [] : sources(p);
    return p.endsWith('.ts') && !p.endsWith('.test.ts') && !p.endsWith('.d.ts') ? [p] : [];
  });
}

/** Relative imports that exist at run time: `import type` and all-type import lists are erased by tsc. */
function valueImports(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/^(?:import|export)\s+(type\s+)?([^'";]*?)\s*from\s+'(\.[^']+)'/gms)) {
    if (m[1] || /^\{\s*(type\s+\w+(\s+as\s+\w+)?\s*,?\s*)+\}$/.test(m[2].trim())) continue;
    const base = path.resolve(path.dirname(file), m[3]);
    const target = [`${base}.ts`, path.join(base, 'index.ts')].find((c) => fs.existsSync(c));
    if (target) out.push(target);
  }
  return out;
}

function cycles(files: string[], base: string): string[] {
  const graph = new Map(files.map((f) => [f, valueImports(f)]));
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const found: string[] = [];
  const visit = (f: string): void => {
    state.set(f, 'open');
    stack.push(f);
    for (const d of graph.get(f) ?? []) {
      if (state.get(d) === 'open') found.push([...stack.slice(stack.indexOf(d)), d].map((p) => path.relative(base, p)).join(' -> '));
      else if (!state.has(d)) visit(d);
    }
    stack.pop();
    state.set(f, 'done');
  };
  files.forEach((f) => state.has(f) || visit(f));
  return found;
}

describe('source structure', () => {
  const all = fs.readdirSync(PACKAGES).flatMap((pkg) => (fs.existsSync(path.join(PACKAGES, pkg, 'src')) ? sources(path.join(PACKAGES, pkg, 'src')) : []));
  // The library: everything but the CLI and the test doubles.
  const library = sources(RUNTIME_SRC).filter((f) => !['cli', 'testing'].some((dir) => f.startsWith(path.join(RUNTIME_SRC, dir) + path.sep)));
  const rel = (f: string) => path.relative(RUNTIME_SRC, f);
  const code = (f: string) => fs.readFileSync(f, 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '');

  it('the cycle finder sees a cycle (checked on a made-up pair)', () => {
    const dir = fs.mkdtempSync('/tmp/tsrunc-cycles-');
    try {
      fs.writeFileSync(path.join(dir, 'a.ts'), "import { b } from './b';\nexport const a = b;\n");
      fs.writeFileSync(path.join(dir, 'b.ts'), "import type { A } from './c';\nimport { a } from './a';\nexport const b = a;\n");
      fs.writeFileSync(path.join(dir, 'c.ts'), "import { b } from './b';\nexport type A = typeof b;\n");
      expect(cycles(sources(dir), dir)).toEqual(['a.ts -> b.ts -> a.ts']);
    } finally {
      fs.rmSync(dir, { recursive: true });
    }
  });

  it('no package has an import cycle', () => {
    expect(cycles(all, PACKAGES)).toEqual([]);
  });

  it('the plan compiler never loads the native addon', () => {
    const plan = sources(path.join(RUNTIME_SRC, 'plan'));
    expect(plan.filter((f) => /\bnative\(\)/.test(code(f))).map(rel)).toEqual([]);
  });

  it('the library leaves process-wide state and the terminal to the CLI, and never sleeps on the loop', () => {
    const forbidden = /process\.(stdout|stderr|stdin)\b|process\.on\(|child_process|setChildSubreaper\(|Atomics\.wait|ttyMakeRaw/;
    // The daemon's reaper is the one place that listens for a signal (SIGCHLD): it is meant to be process-wide.
    const allowed = new Set([path.join(RUNTIME_SRC, 'process/exits.ts')]);
    const offenders = library.filter((f) => !allowed.has(f) && forbidden.test(code(f))).map(rel);
    expect(offenders).toEqual([]);
  });

  it("the shim daemon never uses child_process: its reaper reaps every child, and node's own waits would lose theirs", () => {
    const shim = path.join(PACKAGES, 'shim/src');
    // `start` is its own short-lived process: it spawns the daemon and exits.
    const daemonSide = sources(shim).filter((f) => !f.endsWith('.test.ts') && path.basename(f) !== 'start.ts');
    expect(daemonSide.length).toBeGreaterThan(5);
    expect(daemonSide.filter((f) => /child_process/.test(code(f))).map((f) => path.relative(shim, f))).toEqual([]);
  });
});
