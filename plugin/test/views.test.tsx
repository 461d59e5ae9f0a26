// The three registered views on top of the shared store: the post renderer, the right-hand
// panel and the floating widget, with a fake API and a fake clock.
import {act, fireEvent, render, screen} from '@testing-library/react';
import React from 'react';
import {afterEach, beforeEach, describe, expect, it, vi} from 'vitest';

import {LiveStatusPost} from '../webapp/src/components/PostType';
import {RhsPanel} from '../webapp/src/components/RhsPanel';
import {COLLAPSED_KEY, HIDE_DELAY_MS, POS_KEY, Widget} from '../webapp/src/components/Widget';
import {configureLive} from '../webapp/src/live';
import type {SessionData} from '../webapp/src/types';

import {FakeApi, FakeEventSource, makeBox} from './fakes';

let api: FakeApi;

// Lets fetches resolve and React render what they brought.
async function flush(ms = 0) {
    await act(async () => {
        await vi.advanceTimersByTimeAsync(ms);
    });
}

async function notify(box: SessionData) {
    const saved = api.put(box);
    act(() => FakeEventSource.last().notice(saved.id, saved.revision));
    await flush();
    return saved;
}

beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(1_700_000_030_000);
    FakeEventSource.reset();
    api = new FakeApi();
    configureLive({base: 'http://mm.test/plugins/com.openclaw.livestatus', fetch: api.fetch as typeof fetch, EventSource: FakeEventSource});
});

afterEach(() => {
    configureLive({base: 'http://unused', EventSource: null, fetch: () => new Promise(() => {})});
    vi.useRealTimers();
    delete window.WebappUtils;
});

describe('post renderer', () => {
    const post = {id: 'p1', message: 'final text', props: {session_id: 'b1'}};

    it('loads its box by props.session_id and follows notices', async () => {
        api.put(makeBox({id: 'b1', lines: ['one']}));
        const {container} = render(<LiveStatusPost post={post}/>);
        expect(screen.getByText(/Loading live status/)).toBeTruthy();
        await flush();
        expect(api.count('/sessions/b1')).toBe(1);
        expect(container.querySelector('[data-box-id="b1"] .ls-line')!.textContent).toBe('one');
        act(() => FakeEventSource.last().open());
        await notify({...api.find('b1')!, lines: ['one', 'two']});
        expect([...container.querySelectorAll('.ls-line')].map((e) => e.textContent)).toEqual(['one', 'two']);
    });

    it('shows the post message once the box is gone', async () => {
        render(<LiveStatusPost post={post}/>);
        await flush();
        expect(screen.getByText('final text')).toBeTruthy();
    });

    it('shows the message of a post without a session id', () => {
        render(<LiveStatusPost post={{message: 'plain', props: {}}}/>);
        expect(screen.getByText('plain')).toBeTruthy();
    });
});

describe('right-hand panel', () => {
    it('lists what exists on mount: active first (newest on top), finished below', async () => {
        api.put(makeBox({id: 'old-done', status: 'done', start_time_ms: 1, end_time_ms: 1_699_999_000_000}));
        api.put(makeBox({id: 'run-1', start_time_ms: 1_700_000_000_000}));
        api.put(makeBox({id: 'recent-err', status: 'error', start_time_ms: 2, end_time_ms: 1_700_000_020_000}));
        api.put(makeBox({id: 'run-2', start_time_ms: 1_700_000_010_000, root_id: 'thread9'}));
        const {container} = render(<RhsPanel/>);
        await flush();
        const ids = [...container.querySelectorAll('.ls-entry > .ls-box')].map((e) => e.getAttribute('data-box-id'));
        expect(ids).toEqual(['run-2', 'run-1', 'recent-err', 'old-done']);
        expect(screen.getByText('Active (2)')).toBeTruthy();
        expect(screen.getByText('Recently finished')).toBeTruthy();
    });

    it('says so when nothing runs, and adds a box that starts later', async () => {
        const {container} = render(<RhsPanel/>);
        await flush();
        expect(screen.getByText(/No agent is working/)).toBeTruthy();
        act(() => FakeEventSource.last().open());
        await notify(makeBox({id: 'fresh', lines: ['hello']}));
        expect(container.querySelector('[data-box-id="fresh"]')).not.toBeNull();
        expect(screen.getByText('Active (1)')).toBeTruthy();
    });

    it('opens a thread through the Mattermost router', async () => {
        const push = vi.fn();
        window.WebappUtils = {browserHistory: {push}};
        api.put(makeBox({id: 'r', root_id: 'root42'}));
        render(<RhsPanel/>);
        await flush();
        const link = screen.getByText('Open thread');
        expect(link.getAttribute('href')).toBe('/_redirect/pl/root42');
        fireEvent.click(link);
        expect(push).toHaveBeenCalledWith('/_redirect/pl/root42');
    });
});

describe('widget', () => {
    const widget = (c: HTMLElement) => c.querySelector('[data-ls-view="widget"]') as HTMLElement | null;

    it('stays hidden while nothing runs', async () => {
        api.put(makeBox({id: 'done', status: 'done', end_time_ms: 1}));
        const {container} = render(<Widget/>);
        await flush();
        expect(widget(container)).toBeNull();
    });

    it('appears when a box becomes active and hides 5 s after the last one ends', async () => {
        const {container} = render(<Widget/>);
        await flush();
        act(() => FakeEventSource.last().open());
        const box = await notify(makeBox({id: 'w', agent_id: 'main', lines: ['1', '2', '3', '4', '5', '6', '7']}));
        expect(widget(container)).not.toBeNull();
        expect(widget(container)!.querySelector('.ls-agent')!.textContent).toBe('main');
        expect(widget(container)!.querySelector('.ls-elapsed')!.textContent).toBe('30s');
        // the last five lines only
        expect([...widget(container)!.querySelectorAll('.ls-line')].map((e) => e.textContent)).toEqual(['3', '4', '5', '6', '7']);

        await notify({...box, status: 'done', end_time_ms: 1_700_000_031_000});
        expect(widget(container)!.querySelector('.ls-tag')!.textContent).toBe('[DONE]');
        await flush(HIDE_DELAY_MS - 100);
        expect(widget(container)).not.toBeNull();
        await flush(200);
        expect(widget(container)).toBeNull();
    });

    it('sits left of an open right-hand panel, narrowed to fit, and in the corner without one', async () => {
        window.localStorage.removeItem(POS_KEY);
        const rhs = document.createElement('div');
        rhs.setAttribute('data-ls-view', 'rhs');
        rhs.getBoundingClientRect = () => ({left: 500, right: 900, width: 400, top: 0, bottom: 800, height: 800, x: 500, y: 0, toJSON: () => ({})});
        document.body.appendChild(rhs);
        const width = window.innerWidth;
        window.innerWidth = 900;
        try {
            api.put(makeBox({id: 'side', agent_id: 'main', label: 'mattermost:team#ops'}));
            const {container} = render(<Widget/>);
            await flush();
            const w = widget(container)!;
            expect(w.querySelector('.ls-agent')!.textContent).toBe('main \u00b7 ~ops');
            expect([w.style.right, w.style.bottom, w.style.maxWidth]).toEqual(['420px', '20px', '460px']);
            rhs.remove();
            act(() => {
                window.dispatchEvent(new Event('resize'));
            });
            expect([w.style.right, w.style.maxWidth]).toEqual(['20px', '']);
        } finally {
            rhs.remove();
            window.innerWidth = width;
        }
    });

    it('shows the most recent active box and a count when several run', async () => {
        api.put(makeBox({id: 'older', agent_id: 'a', start_time_ms: 1_700_000_000_000}));
        api.put(makeBox({id: 'newer', agent_id: 'b', start_time_ms: 1_700_000_020_000}));
        const {container} = render(<Widget/>);
        await flush();
        expect(widget(container)!.getAttribute('data-box-id')).toBe('newer');
        expect(widget(container)!.querySelector('.ls-count')!.textContent).toBe('2');
    });

    it('shows the active box that changed last, counting its sub-agents, not the last started', async () => {
        const t0 = 1_700_000_000_000;
        api.put(makeBox({id: 'busy', agent_id: 'a', start_time_ms: t0, last_update_ms: t0 + 1000, lines: ['a1']}));
        api.put(makeBox({id: 'quiet', agent_id: 'b', start_time_ms: t0 + 20_000, last_update_ms: t0 + 20_000, lines: ['b1']}));
        const {container} = render(<Widget/>);
        await flush();
        act(() => FakeEventSource.last().open());
        await flush();
        // Newest start, and the latest change so far.
        expect(widget(container)!.getAttribute('data-box-id')).toBe('quiet');
        // The older box's sub-agent works: its tree changed last, the parent's own stamp did not.
        await notify(makeBox({id: 'busy-child', parent_id: 'busy', agent_id: 'a', label: 'helper',
            start_time_ms: t0 + 25_000, last_update_ms: t0 + 26_000, lines: ['c1']}));
        expect(widget(container)!.getAttribute('data-box-id')).toBe('busy');
        expect(widget(container)!.querySelector('.ls-agent')!.textContent).toBe('a');
        expect(widget(container)!.querySelector('.ls-count')!.textContent).toBe('2');
        // Then the other one gets a line and takes the widget back.
        await notify(makeBox({id: 'quiet', agent_id: 'b', start_time_ms: t0 + 20_000, last_update_ms: t0 + 28_000, lines: ['b1', 'b2']}));
        expect(widget(container)!.getAttribute('data-box-id')).toBe('quiet');
        expect([...widget(container)!.querySelectorAll('.ls-line')].map((e) => e.textContent)).toEqual(['b1', 'b2']);
    });

    it('a new box during the 5 s linger keeps it visible', async () => {
        const box = api.put(makeBox({id: 'x'}));
        const {container} = render(<Widget/>);
        await flush();
        act(() => FakeEventSource.last().open());
        await notify({...box, status: 'done', end_time_ms: 1_700_000_030_000});
        await flush(3000);
        await notify(makeBox({id: 'y', start_time_ms: 1_700_000_033_000}));
        await flush(10_000);
        expect(widget(container)!.getAttribute('data-box-id')).toBe('y');
    });

    it('collapses to a pulsing dot with the count, and remembers it', async () => {
        api.put(makeBox({id: 'c'}));
        const {container, unmount} = render(<Widget/>);
        await flush();
        fireEvent.click(screen.getByLabelText('Collapse'));
        const w = widget(container)!;
        expect(w.getAttribute('data-collapsed')).toBe('true');
        expect(w.querySelector('.ls-dot.ls-pulse')).not.toBeNull();
        expect(w.querySelector('.ls-count')!.textContent).toBe('1');
        expect(w.querySelector('.ls-line')).toBeNull();
        expect(JSON.parse(window.localStorage.getItem(COLLAPSED_KEY)!)).toBe(true);
        unmount();
        const again = render(<Widget/>);
        await flush();
        fireEvent.click(widget(again.container)!);
        expect(widget(again.container)!.getAttribute('data-collapsed')).toBe('false');
    });

    it('is dragged, keeps its position in localStorage, and a drag is not a click', async () => {
        const push = vi.fn();
        window.WebappUtils = {browserHistory: {push}};
        api.put(makeBox({id: 'd', post_id: 'post7'}));
        const {container, unmount} = render(<Widget/>);
        await flush();
        const w = widget(container)!;
        let rect = {left: 500, top: 400, width: 300, height: 120};
        w.getBoundingClientRect = () => ({...rect, right: 0, bottom: 0, x: rect.left, y: rect.top, toJSON: () => ''});
        const body = w.querySelector('.ls-box')!;
        fireEvent.pointerDown(body, {button: 0, clientX: 510, clientY: 410});
        fireEvent.pointerMove(body, {clientX: 410, clientY: 310});
        expect(w.style.left).toBe('400px');
        expect(w.style.top).toBe('300px');
        rect = {...rect, left: 400, top: 300};
        fireEvent.pointerUp(body);
        fireEvent.click(body);
        expect(push).not.toHaveBeenCalled();
        expect(JSON.parse(window.localStorage.getItem(POS_KEY)!)).toEqual({x: 400, y: 300});

        fireEvent.pointerDown(body, {button: 0, clientX: 420, clientY: 320});
        fireEvent.pointerUp(body);
        fireEvent.click(body);
        expect(push).toHaveBeenCalledWith('/_redirect/pl/post7');

        unmount();
        const again = render(<Widget/>);
        await flush();
        expect(widget(again.container)!.style.left).toBe('400px');
    });
});
