// The System Console settings: MaxStatusLines (default 15, as the box keeps) from the redux
// state where the page has it, and the manifest's settings_schema.
import {act, render} from '@testing-library/react';
import fs from 'node:fs';
import path from 'node:path';
import React from 'react';
import {afterEach, describe, expect, it, vi} from 'vitest';

import {StatusBox} from '../webapp/src/components/StatusBox';
import {PLUGIN_ID, configureLive} from '../webapp/src/live';
import {LiveStatusPlugin} from '../webapp/src/plugin';
import {
    DEFAULT_MAX_LINES,
    getMaxLines,
    maxLinesFromSettings,
    pluginSettingsFromState,
    setMaxLines,
} from '../webapp/src/settings';
import type {PluginRegistry} from '../webapp/src/types';

import {makeBox} from './fakes';

const registry = {
    registerPostTypeComponent: () => 'a',
    registerRightHandSidebarComponent: () => ({id: 'r', showRHSPlugin: {}, hideRHSPlugin: {}, toggleRHSPlugin: {}}),
    registerChannelHeaderButtonAction: () => 'b',
    registerRootComponent: () => 'c',
} as unknown as PluginRegistry;

const adminState = (plugin: Record<string, unknown> | undefined) => ({entities: {
    general: {config: {SiteURL: 'https://mm.example.com'}},
    admin: {config: {PluginSettings: {Plugins: plugin ? {[PLUGIN_ID]: plugin} : {}}}},
}});

afterEach(() => {
    setMaxLines(DEFAULT_MAX_LINES);
    configureLive({base: 'http://unused', EventSource: null, fetch: () => new Promise(() => {})});
});

const lineTexts = (c: HTMLElement) => [...c.querySelectorAll('.ls-line')].map((e) => e.textContent);
const thirty = Array.from({length: 30}, (_, i) => `line ${i + 1}`);

describe('MaxStatusLines', () => {
    it('is 15 by default: a box shows its newest 15 lines, as the box keeps', () => {
        expect(getMaxLines()).toBe(15);
        const {container} = render(<StatusBox box={makeBox({lines: thirty})}/>);
        expect(lineTexts(container)).toEqual(thirty.slice(-15));
    });

    it('follows a change of the setting in boxes already on screen', () => {
        const {container} = render(<StatusBox box={makeBox({lines: thirty})}/>);
        act(() => setMaxLines(4));
        expect(lineTexts(container)).toEqual(['line 27', 'line 28', 'line 29', 'line 30']);
        act(() => setMaxLines(0)); // out of range: the default
        expect(lineTexts(container)).toHaveLength(15);
    });

    it('reads the value Mattermost stores (lower-case key, number or digits), else 15', () => {
        expect(maxLinesFromSettings({maxstatuslines: 30})).toBe(30);
        expect(maxLinesFromSettings({MaxStatusLines: '8'})).toBe(8);
        expect(maxLinesFromSettings({maxstatuslines: 'lots'})).toBe(15);
        expect(maxLinesFromSettings({maxstatuslines: 2.5})).toBe(15);
        expect(maxLinesFromSettings({maxstatuslines: 5000})).toBe(15);
        expect(maxLinesFromSettings({})).toBe(15);
        expect(maxLinesFromSettings(null)).toBe(15);
        expect(pluginSettingsFromState({}, PLUGIN_ID)).toBeNull();
        expect(pluginSettingsFromState(adminState({maxstatuslines: 9}), PLUGIN_ID)).toEqual({maxstatuslines: 9});
    });

    it('comes from the redux state at start and on later changes, where the page has it', () => {
        let state: any = adminState({maxstatuslines: 6});
        let listener: (() => void) | null = null;
        const store = {getState: () => state, dispatch: vi.fn(), subscribe: (fn: () => void) => {
            listener = fn;
            return () => undefined;
        }};
        const plugin = new LiveStatusPlugin();
        plugin.initialize(registry, store);
        expect(getMaxLines()).toBe(6);
        state = adminState({maxstatuslines: 25}); // an admin saved the System Console
        listener!();
        expect(getMaxLines()).toBe(25);
        state = {entities: {general: {config: {SiteURL: ''}}}}; // no admin config: default
        listener!();
        expect(getMaxLines()).toBe(15);
        plugin.uninitialize();
    });
});

describe('plugin.json settings_schema', () => {
    const manifest = JSON.parse(fs.readFileSync(path.resolve(__dirname, '..', 'plugin.json'), 'utf8'));

    it('offers MaxStatusLines, a number defaulting to 15', () => {
        const s = manifest.settings_schema.settings.find((x: any) => x.key === 'MaxStatusLines');
        expect(s).toMatchObject({type: 'number', default: 15});
        expect(s.display_name).toBeTruthy();
        expect(s.help_text).toContain('MAX_STATUS_LINES');
    });

    it('says where v4.1 settings of the Go part went', () => {
        const text = `${manifest.settings_schema.header} ${manifest.settings_schema.footer}`;
        for (const word of ['PLUGIN_SECRET', 'SharedSecret', 'MAX_ACTIVE_SESSIONS', 'MaxActiveSessions', '/etc/livestatus/livestatus.env']) {
            expect(text).toContain(word);
        }
    });

    it('uses only setting types Mattermost accepts', () => {
        const ok = ['bool', 'dropdown', 'generated', 'radio', 'text', 'number', 'longtext', 'username', 'custom'];
        for (const s of manifest.settings_schema.settings) {
            expect(ok).toContain(s.type);
            expect(s.key).toMatch(/^[A-Za-z][A-Za-z0-9]*$/);
        }
    });
});
