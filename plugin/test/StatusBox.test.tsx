// The status box as a reader sees it: each status, lines and marks, sub-agents, long text,
// the live clock and auto-scroll.
import {act, fireEvent, render, screen} from '@testing-library/react';
import React from 'react';
import {afterEach, describe, expect, it, vi} from 'vitest';

import {StatusBox} from '../webapp/src/components/StatusBox';
import {boxTitle, friendlyLabel} from '../webapp/src/format';
import type {BoxStatus} from '../webapp/src/types';

import {makeBox} from './fakes';

afterEach(() => {
    vi.useRealTimers();
});

describe('status', () => {
    it.each<[BoxStatus, string]>([
        ['active', '[ACTIVE]'],
        ['done', '[DONE]'],
        ['error', '[ERROR]'],
        ['interrupted', '[INTERRUPTED]'],
    ])('%s shows the tag %s with its own class', (status, tag) => {
        const end = status === 'active' ? null : 1_700_000_065_000;
        const {container} = render(<StatusBox box={makeBox({status, end_time_ms: end})}/>);
        const box = container.querySelector('.ls-box')!;
        expect(box.getAttribute('data-status')).toBe(status);
        expect(box.classList.contains(`ls-${status}`)).toBe(true);
        const tagEl = screen.getByText(tag);
        expect(tagEl.classList.contains(`ls-tag-${status}`)).toBe(true);
        if (status !== 'active') {
            expect(container.querySelector('.ls-elapsed')!.textContent).toBe('1m 05s');
        }
    });

    it('shows agent, label and tokens in the header, the model on hover', () => {
        render(<StatusBox box={makeBox({agent_id: 'main', label: 'ops', model: 'claude-x', token_count: 12_400})}/>);
        expect(screen.getByText('main').className).toContain('ls-agent');
        expect(screen.getByText('main').getAttribute('title')).toBe('model: claude-x');
        expect(screen.getByText('ops')).toBeTruthy();
        expect(screen.queryByText('claude-x')).toBeNull();
        expect(screen.getByText('12.4k tokens')).toBeTruthy();
    });

    it('names the channel, not the raw mattermost route, beside the agent', () => {
        const {container} = render(<StatusBox box={makeBox({
            agent_id: 'main', label: 'mattermost:h3ntq8zk5wa1m7vy2c9rjx4bpe#ops', model: 'claude-opus-4-6'})}/>);
        const head = container.querySelector('.ls-head')!;
        expect(head.querySelector('.ls-agent')!.textContent).toBe('main');
        expect(head.querySelector('.ls-label')!.textContent).toBe('~ops');
        expect(head.textContent).not.toContain('mattermost:');
        expect(head.textContent).not.toContain('claude-opus-4-6');
        // A route of ids only names nothing: the agent alone.
        const bare = render(<StatusBox box={makeBox({agent_id: 'main', label: 'mattermost:channel:u4k9x2mdp7fq3nbc8wyh6tz1re'})}/>);
        expect(bare.container.querySelector('.ls-label')).toBeNull();
        expect(friendlyLabel('mattermost:team#ops')).toBe('~ops');
        expect(friendlyLabel('dump sizes')).toBe('dump sizes');
        expect(boxTitle(makeBox({agent_id: 'main', label: 'mattermost:t#ops'}))).toBe('main \u00b7 ~ops');
        expect(boxTitle(makeBox({agent_id: 'main', label: 'mattermost:channel:x'}))).toBe('main');
    });

    it('hides the token count while it is zero', () => {
        const {container} = render(<StatusBox box={makeBox({token_count: 0})}/>);
        expect(container.querySelector('.ls-tokens')).toBeNull();
    });

    it('ticks the elapsed time every second while active, and stops when finished', () => {
        vi.useFakeTimers();
        vi.setSystemTime(1_700_000_010_000);
        const box = makeBox();
        const {container, rerender} = render(<StatusBox box={box}/>);
        const elapsed = () => container.querySelector('.ls-elapsed')!.textContent;
        expect(elapsed()).toBe('10s');
        act(() => {
            vi.advanceTimersByTime(3000);
        });
        expect(elapsed()).toBe('13s');
        rerender(<StatusBox box={{...box, status: 'done', end_time_ms: 1_700_000_014_000}}/>);
        act(() => {
            vi.advanceTimersByTime(5000);
        });
        expect(elapsed()).toBe('14s');
    });
});

describe('lines', () => {
    it('renders every line in order and marks tool results', () => {
        const lines = [
            'Reading the retention notes.',
            'exec: df -h / [OK]',
            'exec: du -sh /var/log/nope [ERR]',
            'Sub-agent: log sizing',
            '[session compacted - continuing]',
        ];
        const {container} = render(<StatusBox box={makeBox({lines})}/>);
        const els = [...container.querySelectorAll('.ls-line')];
        expect(els.map((e) => e.textContent)).toEqual(lines);
        expect(els.map((e) => e.getAttribute('data-kind'))).toEqual(['text', 'ok', 'err', 'sub', 'note']);
        expect(els[1].querySelector('.ls-mark-ok')!.textContent).toBe('[OK]');
        expect(els[2].classList.contains('ls-line-err')).toBe(true);
        expect(els[2].querySelector('.ls-mark-err')!.textContent).toBe('[ERR]');
    });

    it('keeps long text whole, as text, in a wrapping line', () => {
        const long = 'x'.repeat(5000);
        const html = '<b>not markup</b> '.repeat(20);
        const {container} = render(<StatusBox box={makeBox({lines: [long, html]})}/>);
        const els = container.querySelectorAll('.ls-line');
        expect(els[0].textContent).toBe(long);
        expect(els[1].textContent).toBe(html);
        expect(container.querySelector('b')).toBeNull();
    });

    it('says it is waiting while an active box has no lines yet', () => {
        render(<StatusBox box={makeBox({lines: []})}/>);
        expect(screen.getByText(/waiting for activity/)).toBeTruthy();
    });
});

describe('sub-agents', () => {
    const tree = makeBox({
        id: 'root',
        lines: ['Sub-agent: log sizing'],
        children: [
            makeBox({
                id: 'kid',
                parent_id: 'root',
                label: 'log sizing',
                lines: ['exec: du -sh /var/log [OK]'],
                token_count: 1500,
                children: [makeBox({id: 'grand', parent_id: 'kid', label: 'deeper', lines: ['thinking']})],
            }),
        ],
    });

    it('nests each child inside its parent, indented, at any depth', () => {
        const {container} = render(<StatusBox box={tree}/>);
        const kid = container.querySelector('[data-box-id="kid"]')!;
        expect(kid.parentElement!.classList.contains('ls-child')).toBe(true);
        expect(kid.closest('[data-box-id="root"]')).not.toBeNull();
        expect(kid.classList.contains('ls-nested')).toBe(true);
        const grand = container.querySelector('[data-box-id="grand"]')!;
        expect(grand.parentElement!.closest('[data-box-id="kid"]')).toBe(kid);
        expect(kid.querySelector('.ls-agent')!.textContent).toBe('log sizing');
        expect(kid.querySelector('.ls-tokens')!.textContent).toBe('1.5k tokens');
    });

    it('collapses and expands a sub-agent', () => {
        const {container} = render(<StatusBox box={tree}/>);
        const kid = () => container.querySelector('[data-box-id="kid"]')!;
        const toggle = kid().querySelector('.ls-toggle')!;
        expect(toggle.getAttribute('aria-expanded')).toBe('true');
        fireEvent.click(toggle);
        expect(kid().querySelector('.ls-line')).toBeNull();
        expect(container.querySelector('[data-box-id="grand"]')).toBeNull();
        expect(kid().querySelector('.ls-toggle')!.getAttribute('aria-expanded')).toBe('false');
        fireEvent.click(kid().querySelector('.ls-toggle')!);
        expect(kid().querySelector('.ls-line')!.textContent).toBe('exec: du -sh /var/log [OK]');
    });
});

describe('auto-scroll', () => {
    // jsdom does no layout: give the scroll area fixed sizes.
    function sized(el: HTMLElement, height: {scroll: number; client: number}) {
        Object.defineProperty(el, 'scrollHeight', {configurable: true, get: () => height.scroll});
        Object.defineProperty(el, 'clientHeight', {configurable: true, get: () => height.client});
    }

    it('follows new lines at the bottom and stops once the reader scrolls up', () => {
        const box = makeBox({lines: ['a']});
        const {container, rerender} = render(<StatusBox box={box}/>);
        const area = container.querySelector('.ls-scroll') as HTMLElement;
        const h = {scroll: 1000, client: 100};
        sized(area, h);

        rerender(<StatusBox box={{...box, lines: ['a', 'b'], revision: 2}}/>);
        expect(area.scrollTop).toBe(1000);

        area.scrollTop = 300; // the reader scrolls up
        fireEvent.scroll(area);
        h.scroll = 1200;
        rerender(<StatusBox box={{...box, lines: ['a', 'b', 'c'], revision: 3}}/>);
        expect(area.scrollTop).toBe(300);

        area.scrollTop = 1100; // back at the bottom: following again
        fireEvent.scroll(area);
        h.scroll = 1400;
        rerender(<StatusBox box={{...box, lines: ['a', 'b', 'c', 'd'], revision: 4}}/>);
        expect(area.scrollTop).toBe(1400);
    });
});
