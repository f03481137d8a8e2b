import { DASHBOARD_CSP, loadAssets } from '../../src/dashboard/dashboard.routes';
import { readCookie } from '../../src/dashboard/queue-board.routes';

/** The invariants the dashboard's strict CSP and offline use depend on, checked on the files themselves. */
describe('dashboard static assets', () => {
  const assets = loadAssets();
  const text = (name: string) => assets.get(name)!.body.toString('utf8');
  const scripts = [...assets.keys()].filter((n) => n.endsWith('.js'));

  it('serves each file type with its content type and nothing but whitelisted extensions', () => {
    expect(assets.get('index.html')!.type).toBe('text/html; charset=utf-8');
    expect(assets.get('style.css')!.type).toBe('text/css; charset=utf-8');
    expect(assets.get('favicon.svg')!.type).toBe('image/svg+xml');
    expect(scripts).toEqual(expect.arrayContaining(['app.js', 'api.js', 'charts.js', 'dom.js', 'overview.js', 'customer.js']));
    for (const n of scripts) expect([n, assets.get(n)!.type]).toEqual([n, 'text/javascript; charset=utf-8']);
    expect([...assets.keys()].filter((n) => !/\.(html|js|css|svg)$/.test(n))).toEqual([]);
  });

  it('has a closed module graph: every relative import is a served file', () => {
    const entry = /<script type="module" src="\/dashboard\/([\w.-]+)"><\/script>/.exec(text('index.html'))?.[1];
    expect(entry).toBe('app.js');
    const seen = new Set<string>();
    const visit = (name: string) => {
      if (seen.has(name)) return;
      expect([name, assets.has(name)]).toEqual([name, true]);
      seen.add(name);
      for (const m of text(name).matchAll(/\bfrom\s+'\.\/([\w.-]+)'/g)) visit(m[1]!);
    };
    visit(entry!);
    expect([...seen].sort()).toEqual([...scripts].sort());
  });

  it('needs nothing the CSP forbids and nothing from the internet', () => {
    const html = text('index.html');
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)/);
    expect(html).not.toMatch(/\sstyle=|\son[a-z]+=/i);
    for (const [name] of assets) {
      const urls = [...text(name).matchAll(/https?:\/\/[^\s'"<>)]+/g)].map((m) => m[0]).filter((u) => u !== 'http://www.w3.org/2000/svg');
      expect([name, urls]).toEqual([name, []]);
    }
    for (const n of scripts) {
      // Markup from strings would bypass textContent (XSS) and style attributes are blocked by style-src 'self'.
      expect([n, text(n).match(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|setAttribute\('style'|@import/g)]).toEqual([n, null]);
    }
    expect(DASHBOARD_CSP).toMatch(/default-src 'none'/);
    expect(DASHBOARD_CSP).not.toMatch(/unsafe|\*/);
  });

  it('reads the job monitor cookie among others and ignores malformed values', () => {
    expect(readCookie('a=1; vg_board=vg_admin_x%2By; b=2', 'vg_board')).toBe('vg_admin_x+y');
    expect(readCookie('vg_board_other=1', 'vg_board')).toBeUndefined();
    expect(readCookie(undefined, 'vg_board')).toBeUndefined();
    expect(readCookie('vg_board=%E0%A4%A', 'vg_board')).toBeUndefined();
  });
});
