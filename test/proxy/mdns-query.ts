/**
 * A real mDNS query, run inside a test's network namespace (`ip netns exec NS node mdns-query.ts`):
 * `multicast ADDRESS NAME...` asks as an mDNS resolver does (from port 5353, to the group, on the
 * link of ADDRESS) and prints the first response that answers NAME[0]; `legacy ADDRESS NAME...` asks
 * as a plain resolver does (dig: from a port of its own, with an id) and prints the response to that
 * id. The answer is printed as JSON lines `{"name","type","data"}`; after 10 s without one it says
 * what it saw and exits 1.
 */
import { createSocket } from "node:dgram";
import dnsPacket from "dns-packet";
import makeMdns from "multicast-dns";

const [mode, address, ...names] = process.argv.slice(2);
if (!address || names.length === 0 || (mode !== "multicast" && mode !== "legacy")) {
  console.error("usage: mdns-query.ts multicast|legacy ADDRESS NAME...");
  process.exit(2);
}
const questions = names.map((name) => ({ name, type: "A" as const }));
const seen: string[] = [];
const print = (answers: readonly dnsPacket.Answer[]) => {
  for (const answer of answers)
    console.log(
      JSON.stringify({
        name: answer.name,
        type: answer.type,
        data: "data" in answer ? answer.data : null,
        ttl: "ttl" in answer ? answer.ttl : null,
      }),
    );
};
const ceiling = setTimeout(() => {
  console.error(`no answer for ${names[0]} within 10 s; saw: ${seen.join(" | ") || "nothing"}`);
  process.exit(1);
}, 10_000);

if (mode === "multicast") {
  const mdns = makeMdns({ interface: address, bind: "0.0.0.0", reuseAddr: true });
  mdns.on("response", (response) => {
    seen.push(JSON.stringify(response.answers));
    if (!response.answers.some((answer) => answer.name === names[0])) return;
    print(response.answers);
    clearTimeout(ceiling);
    mdns.destroy();
  });
  mdns.on("ready", () => mdns.query({ questions }));
} else {
  const socket = createSocket("udp4");
  const id = Math.floor(Math.random() * 65_535) + 1;
  socket.on("message", (message) => {
    const response = dnsPacket.decode(message);
    seen.push(`id ${response.id}: ${JSON.stringify(response.answers)}`);
    if (response.id !== id) return;
    print(response.answers ?? []);
    clearTimeout(ceiling);
    socket.close();
  });
  socket.bind(0, () => {
    socket.setMulticastInterface(address);
    socket.send(dnsPacket.encode({ type: "query", id, questions }), 5353, "224.0.0.251");
  });
}
