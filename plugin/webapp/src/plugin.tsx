// The plugin object Mattermost initialises: it points the data layer at the API and registers
// the three views. Kept apart from index.tsx so the demo page can run the same code against
// its stand-in registry.
import React from 'react';

import {LiveStatusPost} from './components/PostType';
import {RhsPanel} from './components/RhsPanel';
import {Widget} from './components/Widget';
import {PLUGIN_ID, channelsFromState, configureLive, getLive, resolveBase} from './live';
import {maxLinesFromSettings, pluginSettingsFromState, setMaxLines} from './settings';
import {ensureStyles} from './styles';
import type {PluginRegistry, ReduxStoreLike} from './types';

export const POST_TYPE = 'custom_livestatus';

// currentColor only, so the header button follows the theme like Mattermost's own icons.
function Icon() {
    return (
        <svg width='16' height='16' viewBox='0 0 16 16' aria-hidden='true'>
            <rect x='1.5' y='2.5' width='13' height='11' rx='1.5' fill='none' stroke='currentColor'/>
            <path d='M4 6l2 2-2 2M7.5 10.5h4' fill='none' stroke='currentColor' strokeLinecap='round'/>
        </svg>
    );
}

export class LiveStatusPlugin {
    private unsubscribe: (() => void) | null = null;

    initialize(registry: PluginRegistry, store: ReduxStoreLike): void {
        const state = store?.getState?.();
        const siteURL: string | undefined = state?.entities?.general?.config?.SiteURL;
        // The stream follows the user's channels (the current one and the memberships) when
        // the page has Mattermost's channel state; the demo's stand-in store has none, and
        // without a channel source the stream asks for every notice (channels=all).
        const hasChannels = channelsFromState(state) !== null;
        const live = configureLive({
            base: resolveBase(siteURL),
            channels: hasChannels ? () => channelsFromState(store.getState()) : undefined,
        });
        this.unsubscribe?.();
        this.unsubscribe = null;
        // MaxStatusLines, where the page has the plugin's settings (see settings.ts).
        let settings = pluginSettingsFromState(state, PLUGIN_ID);
        setMaxLines(maxLinesFromSettings(settings));
        if (typeof store.subscribe === 'function') {
            // Redux calls this on every action; only a new current channel, a new
            // memberships object or new plugin settings are worth a look (the live store
            // debounces channel changes again).
            let seen: unknown[] = [];
            this.unsubscribe = store.subscribe(() => {
                const next = store.getState();
                const mine = pluginSettingsFromState(next, PLUGIN_ID);
                if (mine !== settings) {
                    settings = mine;
                    setMaxLines(maxLinesFromSettings(mine));
                }
                if (!hasChannels) {
                    return;
                }
                const ch = next?.entities?.channels;
                const now = [ch?.currentChannelId, ch?.myMembers];
                if (now[0] !== seen[0] || now[1] !== seen[1]) {
                    seen = now;
                    live.channelsChanged();
                }
            });
        }
        ensureStyles();

        registry.registerPostTypeComponent(POST_TYPE, LiveStatusPost);
        const rhs = registry.registerRightHandSidebarComponent(RhsPanel, 'Live Status');
        registry.registerChannelHeaderButtonAction(
            <Icon/>,
            () => store.dispatch(rhs.toggleRHSPlugin),
            'Live Status',
            'Show live agent status',
        );
        registry.registerRootComponent(Widget);
    }

    // Disabling the plugin drops the stream connection and the polling with it.
    uninitialize(): void {
        this.unsubscribe?.();
        this.unsubscribe = null;
        getLive().close();
    }
}
