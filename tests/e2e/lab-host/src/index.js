/**
 * The application: the static plugins (npm extension packages, listed in package.json) plus the
 * plugins of every federated extension, registered the way JupyterLab's own bootstrap does it.
 * The app is exposed as `window.jupyterapp` for the tests (`app.commands.execute(...)`,
 * `app.isPluginActivated(...)`).
 */
import { JupyterLab } from "@jupyterlab/application";
import { PageConfig } from "@jupyterlab/coreutils";
import staticExtensions from "lab-host-generated/extensions.js";
import "lab-host-generated/style.js";
import { provideAll } from "lab-host-generated/provide-all.js";

// Referenced so the bundler keeps it; never called (see webpack.config.js).
window.__labHostProvideAll = provideAll;

function pluginsOf(mod) {
  let data = mod && Object.prototype.hasOwnProperty.call(mod, "__esModule") ? mod.default : mod;
  if (data && data.default) data = data.default;
  return Array.isArray(data) ? data : [data];
}

async function federatedModule(scope, module) {
  const factory = await window._JUPYTERLAB[scope].get(module);
  return factory();
}

export async function main() {
  const federated = JSON.parse(PageConfig.getOption("federated_extensions") || "[]");
  const plugins = [];
  const mimeExtensions = [];
  for (const [, mod] of staticExtensions) plugins.push(...pluginsOf(mod));
  const loads = [];
  for (const data of federated) {
    if (data.extension) loads.push(federatedModule(data.name, data.extension).then((m) => plugins.push(...pluginsOf(m))));
    if (data.mimeExtension) loads.push(federatedModule(data.name, data.mimeExtension).then((m) => mimeExtensions.push(...pluginsOf(m))));
    if (data.style) loads.push(federatedModule(data.name, data.style));
  }
  for (const r of await Promise.allSettled(loads)) {
    if (r.status === "rejected") console.error("a federated extension module failed to load:", r.reason);
  }
  const lab = new JupyterLab({ mimeExtensions });
  for (const plugin of plugins) {
    try {
      lab.registerPlugin(plugin);
    } catch (error) {
      console.error(error);
    }
  }
  window.jupyterapp = lab;
  await lab.start({ bubblingKeydown: true });
  await lab.restored;
  document.body.dataset.labRestored = "true";
}
