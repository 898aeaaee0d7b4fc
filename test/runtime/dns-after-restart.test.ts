/**
 * Names resolve between an app's containers right after they stop and start again — the moment
 * Podman 4.3's DNS server race hits (src/runtime/libpod/dns-server.ts): with the app's containers
 * the last ones using DNS, a stop then a quick start left the names unresolvable. Run alone, this
 * file reproduces that race on every cycle without the guard; inside the suite, other tests'
 * containers often keep the server alive, and it checks the same behaviour under that load.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { TEST_IMAGE } from "../../src/host/layout.ts";
import { LABELS, OWNER } from "../../src/manifest/naming.ts";
import { eventually, RuntimeLab } from "../support/runtime-lab.ts";

let lab: RuntimeLab;

before(async () => {
  lab = await RuntimeLab.open();
});

after(async () => {
  await lab?.close();
});

describe("real Podman: DNS after a stop and a quick start", () => {
  test("an alias resolves within seconds after each of three stop/start cycles", async () => {
    const network = `archy-${lab.prefix}-dns-cycle`;
    const labels = { [LABELS.owner]: OWNER, [LABELS.app]: `${lab.prefix}-dns-cycle` };
    await lab.client.networks.create({ name: network, driver: "bridge", dns_enabled: true, labels });
    const spec = (name: string, aliases: string[]) => ({
      name,
      image: TEST_IMAGE,
      command: ["serve"],
      env: { PORT: "8080" },
      labels,
      stop_timeout: 2,
      netns: { nsmode: "bridge" },
      Networks: { [network]: { aliases } },
    });
    const database = `${lab.prefix}-dns-database`;
    const web = `${lab.prefix}-dns-web`;
    await lab.client.containers.create(spec(database, ["database"]));
    await lab.client.containers.create(spec(web, []));

    for (let cycle = 1; cycle <= 3; cycle++) {
      await lab.client.containers.start(database);
      await lab.client.containers.start(web);
      const page = await eventually(
        `cycle ${cycle}: 'database' to resolve from ${web}`,
        async () => {
          const result = await lab.client.containers.exec(web, [
            "wget",
            "-q",
            "-O",
            "-",
            "http://database:8080/",
          ]);
          return result.exitCode === 0 ? result.stdout : undefined;
        },
        10_000,
        250,
      );
      assert.ok(page.length > 0, `cycle ${cycle}: the page came back`);
      await lab.client.containers.stop(web, 2);
      await lab.client.containers.stop(database, 2);
    }
  });
});
