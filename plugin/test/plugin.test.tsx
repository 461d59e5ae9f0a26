// Registration with the Mattermost plugin registry, the manifest, and the built bundle's use
// of the page's React.
import fs from 'node:fs';
import path from 'node:path';

import {describe, expect, it, vi} from 'vitest';

import {LiveStatusPost} from '../webapp/src/components/PostType';
import {RhsPanel} from '../webapp/src/components/RhsPanel';
import {Widget} from '../webapp/src/components/Widget';
import {configureLive, getLive} from '../webapp/src/live';
import {LiveStatusPlugin, POST_TYPE} from '../webapp/src/plugin';
import type {PluginRegistry} from '../webapp/src/types';

const root = path.resolve(__dirname, '..');

describe('LiveStatusPlugin.initialize', () => {
    it('registers the post type, the RHS with its header button, and the widget', () => {
        const toggle = {type: 'TOGGLE'};
        const registry = {
            registerPostTypeComponent: vi.fn(() => 'a'),
            registerRightHandSidebarComponent: vi.fn(() => ({id: 'r', showRHSPlugin: {}, hideRHSPlugin: {}, toggleRHSPlugin: toggle})),
            registerChannelHeaderButtonAction: vi.fn(() => 'b'),
            registerRootComponent: vi.fn(() => 'c'),
        };
        const store = {getState: () => ({entities: {general: {config: {SiteURL: 'https://mm.example.com'}}}}), dispatch: vi.fn()};
        new LiveStatusPlugin().initialize(registry as unknown as PluginRegistry, store);

        expect(registry.registerPostTypeComponent).toHaveBeenCalledWith(POST_TYPE, LiveStatusPost);
        expect(POST_TYPE).toBe('custom_livestatus');
        expect(registry.registerRightHandSidebarComponent).toHaveBeenCalledWith(RhsPanel, 'Live Status');
        expect(registry.registerRootComponent).toHaveBeenCalledWith(Widget);
        const call = registry.registerChannelHeaderButtonAction.mock.calls[0] as unknown[];
        (call[1] as () => void)();
        expect(store.dispatch).toHaveBeenCalledWith(toggle);
        expect(document.getElementById('livestatus-style')).not.toBeNull();
        configureLive({base: 'http://unused', EventSource: null, fetch: () => new Promise(() => {})});
    });
});

describe('LiveStatusPlugin channels', () => {
    const registry = {
        registerPostTypeComponent: () => 'a',
        registerRightHandSidebarComponent: () => ({id: 'r', showRHSPlugin: {}, hideRHSPlugin: {}, toggleRHSPlugin: {}}),
        registerChannelHeaderButtonAction: () => 'b',
        registerRootComponent: () => 'c',
    } as unknown as PluginRegistry;
    const id = (s: string) => s.padEnd(26, '0');

    it('subscribes the stream to the current channel and memberships from the redux store', () => {
        let state: any = {entities: {
            general: {config: {SiteURL: 'https://mm.example.com'}},
            channels: {currentChannelId: id('town'), myMembers: {[id('town')]: {last_viewed_at: 2}, [id('dev')]: {last_viewed_at: 1}}},
        }};
        let listener: (() => void) | null = null;
        const unsubscribe = vi.fn();
        const store = {
            getState: () => state,
            dispatch: vi.fn(),
            subscribe: vi.fn((fn: () => void) => {
                listener = fn;
                return unsubscribe;
            }),
        };
        const plugin = new LiveStatusPlugin();
        plugin.initialize(registry, store);
        const live = getLive();
        expect(live.streamURL()).toBe(`https://mm.example.com/plugins/com.openclaw.livestatus/api/v1/stream?channels=${id('dev')},${id('town')}`);

        const changed = vi.spyOn(live, 'channelsChanged');
        listener!();
        expect(changed).toHaveBeenCalledTimes(1);
        listener!(); // an unrelated action: same channel, same memberships object
        expect(changed).toHaveBeenCalledTimes(1);
        state = {entities: {...state.entities, channels: {...state.entities.channels, currentChannelId: id('rand')}}};
        listener!();
        expect(changed).toHaveBeenCalledTimes(2);
        expect(live.streamChannels()).toBe([id('dev'), id('rand'), id('town')].join(','));

        plugin.uninitialize();
        expect(unsubscribe).toHaveBeenCalled();
        configureLive({base: 'http://unused', EventSource: null, fetch: () => new Promise(() => {})});
    });

    it('asks for channels=all on a page without Mattermost channel state (the demo)', () => {
        const store = {getState: () => ({entities: {general: {config: {SiteURL: ''}}}}), dispatch: vi.fn()};
        new LiveStatusPlugin().initialize(registry, store);
        expect(getLive().streamURL()).toMatch(/\/api\/v1\/stream\?channels=all$/);
        configureLive({base: 'http://unused', EventSource: null, fetch: () => new Promise(() => {})});
    });
});

describe('plugin.json', () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(root, 'plugin.json'), 'utf8'));

    it('is a webapp-only plugin with the agreed id and name', () => {
        expect(manifest.id).toBe('com.openclaw.livestatus');
        expect(manifest.name).toBe('OpenClaw Live Status');
        expect(manifest.min_server_version).toBe('7.0.0');
        expect(manifest.webapp.bundle_path).toBe('webapp/dist/main.js');
        expect(manifest.server).toBeUndefined();
    });

    it('carries the project version', () => {
        const versionFile = path.join(root, '..', 'VERSION');
        if (fs.existsSync(versionFile)) {
            expect(manifest.version).toBe(fs.readFileSync(versionFile, 'utf8').trim());
        } else {
            expect(manifest.version).toMatch(/^\d+\.\d+\.\d+$/);
        }
    });
});
