// Entry of the bundle Mattermost loads (webapp/dist/main.js).
import {LiveStatusPlugin} from './plugin';
import {PLUGIN_ID} from './live';

declare global {
    interface Window {
        registerPlugin(id: string, plugin: unknown): void;
    }
}

window.registerPlugin(PLUGIN_ID, new LiveStatusPlugin());
