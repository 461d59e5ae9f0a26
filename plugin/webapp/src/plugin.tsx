// The plugin object Mattermost initialises: it points the data layer at the API and registers
// the three views. Kept apart from index.tsx so the demo page can run the same code against
// its stand-in registry.
import React from 'react';

import {LiveStatusPost} from './components/PostType';
import {RhsPanel} from './components/RhsPanel';
import {Widget} from './components/Widget';
import {configureLive, getLive, resolveBase} from './live';
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
    initialize(registry: PluginRegistry, store: ReduxStoreLike): void {
        const siteURL: string | undefined = store?.getState?.()?.entities?.general?.config?.SiteURL;
        configureLive({base: resolveBase(siteURL)});
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
        getLive().close();
    }
}
