// The built bundle as Mattermost loads it: a plain script on a page whose React and ReactDOM
// are globals (here the UMD builds), calling window.registerPlugin. Skipped before a build;
// `make test` builds first.
import fs from 'node:fs';
import path from 'node:path';

import {describe, expect, it, vi} from 'vitest';

const root = path.resolve(__dirname, '..');
const bundle = path.join(root, 'webapp/dist/main.js');
const load = (file: string) => (0, eval)(fs.readFileSync(file, 'utf8')); // global scope, like <script>

describe.skipIf(!fs.existsSync(bundle))('webapp/dist/main.js', () => {
    it('does not carry its own React', () => {
        const js = fs.readFileSync(bundle, 'utf8');
        expect(js).toContain('window.React');
        expect(js).not.toMatch(/__SECRET_INTERNALS|ReactCurrentDispatcher/);
    });

    it('registers with the page and renders with the page\'s React', async () => {
        load(path.join(root, 'node_modules/react/umd/react.production.min.js'));
        load(path.join(root, 'node_modules/react-dom/umd/react-dom.production.min.js'));
        const w = window as any;
        expect(typeof w.React.createElement).toBe('function');

        const fetchMock = vi.fn(async () => new Response(JSON.stringify({
            id: 'b1', session_key: 'k', agent_id: 'main', channel_id: '', root_id: '', post_id: 'p', parent_id: null,
            label: '', status: 'done', lines: ['exec: ls [OK]'], children: [], start_time_ms: 0, end_time_ms: 2000,
            last_update_ms: 2000, token_count: 0, model: '', revision: 1,
        }), {status: 200}));
        vi.stubGlobal('fetch', fetchMock);
        w.__LIVESTATUS_BASE__ = 'http://mm.test/plugins/com.openclaw.livestatus';

        const got: Record<string, any> = {};
        w.registerPlugin = (id: string, plugin: any) => {
            got.id = id;
            plugin.initialize({
                registerPostTypeComponent: (t: string, c: any) => (got[t] = c),
                registerRightHandSidebarComponent: (c: any) => {
                    got.rhs = c;
                    return {toggleRHSPlugin: {}};
                },
                registerChannelHeaderButtonAction: () => '',
                registerRootComponent: (c: any) => (got.root = c),
            }, {getState: () => ({}), dispatch: () => null});
        };
        load(bundle);
        expect(got.id).toBe('com.openclaw.livestatus');
        expect(got.rhs && got.root && got.custom_livestatus).toBeTruthy();

        const el = document.createElement('div');
        document.body.appendChild(el);
        w.ReactDOM.render(w.React.createElement(got.custom_livestatus, {post: {props: {session_id: 'b1'}}}), el);
        await vi.waitFor(() => expect(el.querySelector('.ls-line')?.textContent).toBe('exec: ls [OK]'));
        expect(fetchMock).toHaveBeenCalledWith('http://mm.test/plugins/com.openclaw.livestatus/api/v1/sessions/b1', expect.anything());
        w.ReactDOM.unmountComponentAtNode(el);
        vi.unstubAllGlobals();
    });
});
