// Builds the two bundles with esbuild:
//  - webapp/dist/main.js: the plugin Mattermost loads. React and ReactDOM are not bundled;
//    they resolve to the page's window.React / window.ReactDOM, as Mattermost plugins must.
//  - dist/demo/: a page that runs the same plugin code against a stand-in registry, React
//    bundled in, for the demo and the browser tests.
// `node build.mjs --package` also stages dist/com.openclaw.livestatus/ and writes
// dist/com.openclaw.livestatus.tar.gz, the archive the System Console accepts.
import {execFileSync} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {fileURLToPath} from 'node:url';

import * as esbuild from 'esbuild';

const here = path.dirname(fileURLToPath(import.meta.url));
const at = (...p) => path.join(here, ...p);

const manifest = JSON.parse(fs.readFileSync(at('plugin.json'), 'utf8'));
const versionFile = at('..', 'VERSION');
if (fs.existsSync(versionFile)) {
    // The project's version wins, so a release never ships a stale manifest.
    manifest.version = fs.readFileSync(versionFile, 'utf8').trim();
}

const pageGlobals = {
    name: 'page-globals',
    setup(build) {
        build.onResolve({filter: /^react(-dom)?$/}, (args) => ({path: args.path, namespace: 'page-global'}));
        build.onLoad({filter: /.*/, namespace: 'page-global'}, (args) => ({
            contents: `module.exports = window.${args.path === 'react' ? 'React' : 'ReactDOM'};`,
            loader: 'js',
        }));
    },
};

const common = {
    bundle: true,
    minify: true,
    sourcemap: false,
    target: 'es2019',
    format: 'iife',
    jsx: 'transform',
    logLevel: 'warning',
    define: {'process.env.NODE_ENV': '"production"'},
    legalComments: 'none',
};

await esbuild.build({
    ...common,
    entryPoints: [at('webapp/src/index.tsx')],
    outfile: at(manifest.webapp.bundle_path),
    plugins: [pageGlobals],
});

fs.mkdirSync(at('dist/demo'), {recursive: true});
await esbuild.build({
    ...common,
    entryPoints: [at('demo/main.tsx')],
    outfile: at('dist/demo/demo.js'),
});
fs.copyFileSync(at('demo/index.html'), at('dist/demo/index.html'));

if (process.argv.includes('--package')) {
    const stage = at('dist/pkg', manifest.id);
    fs.rmSync(at('dist/pkg'), {recursive: true, force: true});
    fs.mkdirSync(path.join(stage, path.dirname(manifest.webapp.bundle_path)), {recursive: true});
    fs.writeFileSync(path.join(stage, 'plugin.json'), JSON.stringify(manifest, null, 4) + '\n');
    fs.copyFileSync(at(manifest.webapp.bundle_path), path.join(stage, manifest.webapp.bundle_path));
    const tarball = at('dist', `${manifest.id}.tar.gz`);
    execFileSync('tar', ['-C', at('dist/pkg'), '-czf', tarball, manifest.id], {stdio: 'inherit'});
    // The full path: `make package` at the top runs this in plugin/, where a relative
    // path would name a file that is not there from the caller's folder.
    console.log(`wrote ${tarball} (version ${manifest.version})`);
}
