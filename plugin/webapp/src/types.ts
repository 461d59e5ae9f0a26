// The shapes this webapp shares with the status API (docs/api.md in the repository) and with the
// Mattermost plugin registry. Only what the webapp reads is typed.
import type React from 'react';

export type BoxStatus = 'active' | 'done' | 'error' | 'interrupted';

export interface SessionData {
    id: string;
    session_key: string;
    agent_id: string;
    channel_id: string;
    root_id: string;
    post_id: string;
    parent_id: string | null;
    label: string;
    status: BoxStatus;
    lines: string[];
    children: SessionData[];
    start_time_ms: number;
    end_time_ms: number | null;
    last_update_ms: number;
    token_count: number;
    model: string;
    revision: number;
}

// What the writer publishes through nchan after each change of a box.
export interface Notice {
    revision: number;
    id: string;
    channel_id?: string;
}

// The part of Mattermost's PluginRegistry this plugin calls. The registry's own type lives in
// the Mattermost webapp, not in @mattermost/types, so it is declared here; positional
// arguments are accepted by every server version from 7.0 on.
export interface RhsRegistration {
    id: string;
    showRHSPlugin: unknown;
    hideRHSPlugin: unknown;
    toggleRHSPlugin: unknown;
}

export interface PluginRegistry {
    registerPostTypeComponent(type: string, component: React.ComponentType<any>): string;
    registerRightHandSidebarComponent(component: React.ComponentType<any>, title: React.ReactNode): RhsRegistration;
    registerChannelHeaderButtonAction(
        icon: React.ReactNode,
        action: () => void,
        dropdownText: React.ReactNode,
        tooltipText: React.ReactNode,
    ): string;
    registerRootComponent(component: React.ComponentType<any>): string;
}

export interface ReduxStoreLike {
    getState(): any;
    dispatch(action: any): unknown;
    subscribe?(listener: () => void): () => void; // Mattermost's store has it; the demo's does not
}
