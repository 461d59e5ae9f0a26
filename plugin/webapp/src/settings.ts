// The plugin's System Console settings (plugin.json settings_schema) as the webapp sees them.
// A webapp-only plugin has no server part to ask, and Mattermost gives the plugin settings only
// to pages that loaded the admin configuration (entities.admin.config, system admins); every
// other page uses the defaults, which match the env file's defaults (MAX_STATUS_LINES=15).
import React from 'react';

export const DEFAULT_MAX_LINES = 15;
export const MAX_LINES_LIMIT = 1000; // as MAX_STATUS_LINES on the server

let maxLines = DEFAULT_MAX_LINES;
const listeners = new Set<() => void>();

// This plugin's settings in a Mattermost redux state, or null when the page does not have them.
// The server keeps setting keys in lower case (maxstatuslines); either case is accepted.
export function pluginSettingsFromState(state: any, pluginId: string): Record<string, unknown> | null {
    const plugins = state?.entities?.admin?.config?.PluginSettings?.Plugins;
    const mine = plugins && typeof plugins === 'object' ? plugins[pluginId] : null;
    return mine && typeof mine === 'object' ? (mine as Record<string, unknown>) : null;
}

// MaxStatusLines from a settings object: a whole number 1..MAX_LINES_LIMIT (a number, or a
// string of digits, as an old config may hold), else the default.
export function maxLinesFromSettings(settings: Record<string, unknown> | null): number {
    if (!settings) {
        return DEFAULT_MAX_LINES;
    }
    const raw = settings.maxstatuslines ?? settings.MaxStatusLines;
    const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\s*\d+\s*$/.test(raw) ? Number(raw) : NaN;
    return Number.isInteger(n) && n >= 1 && n <= MAX_LINES_LIMIT ? n : DEFAULT_MAX_LINES;
}

export function getMaxLines(): number {
    return maxLines;
}

export function setMaxLines(n: number): void {
    const next = Number.isInteger(n) && n >= 1 && n <= MAX_LINES_LIMIT ? n : DEFAULT_MAX_LINES;
    if (next !== maxLines) {
        maxLines = next;
        listeners.forEach((fn) => fn());
    }
}

// The number of lines a box shows, re-rendering when the setting changes.
export function useMaxLines(): number {
    const [, bump] = React.useReducer((x: number) => x + 1, 0);
    React.useEffect(() => {
        listeners.add(bump);
        return () => {
            listeners.delete(bump);
        };
    }, []);
    return maxLines;
}
