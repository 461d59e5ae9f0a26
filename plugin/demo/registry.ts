// A stand-in for the parts of the Mattermost web app a plugin touches: window.registerPlugin,
// the plugin registry (it records what is registered so the demo page can mount it), a redux
// store with the site config, and window.React / window.ReactDOM. Imported before the plugin
// so its registerPlugin call lands here.
import React from 'react';
import ReactDOM from 'react-dom';

import type {PluginRegistry, RhsRegistration} from '../webapp/src/types';

declare global {
    interface Window {
        React: typeof React;
        ReactDOM: typeof ReactDOM;
    }
}

window.React = React;
window.ReactDOM = ReactDOM;

// The demo's nginx serves the API on this page's origin; no login (READ_AUTH=none).
window.__LIVESTATUS_BASE__ = window.__LIVESTATUS_BASE__ || `${window.location.origin}/plugins/com.openclaw.livestatus`;

export interface Registered {
    pluginId: string;
    postTypes: Record<string, React.ComponentType<any>>;
    rhs: Array<{component: React.ComponentType<any>; title: React.ReactNode; reg: RhsRegistration}>;
    headerButtons: Array<{icon: React.ReactNode; action: () => void; dropdownText: React.ReactNode; tooltip: React.ReactNode}>;
    roots: Array<React.ComponentType<any>>;
}

export const registered: Registered = {pluginId: '', postTypes: {}, rhs: [], headerButtons: [], roots: []};

let rhsOpen = true;
const rhsListeners = new Set<(open: boolean) => void>();

export function isRhsOpen(): boolean {
    return rhsOpen;
}

export function onRhsChange(fn: (open: boolean) => void): () => void {
    rhsListeners.add(fn);
    return () => rhsListeners.delete(fn);
}

const store = {
    getState: () => ({entities: {general: {config: {SiteURL: ''}}}}),
    dispatch(action: {type?: string}) {
        if (action?.type === 'demo/toggle-rhs') {
            rhsOpen = !rhsOpen;
            rhsListeners.forEach((fn) => fn(rhsOpen));
        }
        return action;
    },
};

let n = 0;
const registry: PluginRegistry = {
    registerPostTypeComponent(type, component) {
        registered.postTypes[type] = component;
        return `demo-${++n}`;
    },
    registerRightHandSidebarComponent(component, title) {
        const id = `demo-${++n}`;
        const reg = {
            id,
            showRHSPlugin: {type: 'demo/show-rhs'},
            hideRHSPlugin: {type: 'demo/hide-rhs'},
            toggleRHSPlugin: {type: 'demo/toggle-rhs'},
        };
        registered.rhs.push({component, title, reg});
        return reg;
    },
    registerChannelHeaderButtonAction(icon, action, dropdownText, tooltip) {
        registered.headerButtons.push({icon, action, dropdownText, tooltip});
        return `demo-${++n}`;
    },
    registerRootComponent(component) {
        registered.roots.push(component);
        return `demo-${++n}`;
    },
};

window.registerPlugin = (id: string, plugin: any) => {
    registered.pluginId = id;
    plugin.initialize(registry, store);
};
