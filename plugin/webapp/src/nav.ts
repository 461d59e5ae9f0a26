// Opening a box's thread. Inside Mattermost the page's router is used so the app does not
// reload; elsewhere (the demo) a plain navigation, which a page may intercept.
import {permalinkPath} from './format';
import type {SessionData} from './types';

declare global {
    interface Window {
        WebappUtils?: {browserHistory?: {push(path: string): void}};
    }
}

export function threadHref(box: SessionData): string | null {
    const path = permalinkPath(box);
    return path ? `${(window.basename || '').replace(/\/+$/, '')}${path}` : null;
}

export function openThread(box: SessionData): void {
    const path = permalinkPath(box);
    if (!path) {
        return;
    }
    const history = window.WebappUtils?.browserHistory;
    if (history?.push) {
        history.push(path); // Mattermost's history already carries the subpath
    } else {
        window.location.assign(threadHref(box)!);
    }
}
