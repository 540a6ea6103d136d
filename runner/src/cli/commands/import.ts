/** `opsc import ansible-inventory FILE [--write FILE]`: an Ansible inventory as OpsConductor targets. */
import { Command, Option } from "commander";
import type { InventoryFormat } from "../../app/import-inventory.js";

export function register(program: Command): void {
  const imp = program.command("import").description("Bring definitions over from other tools");
  imp
    .command("ansible-inventory")
    .description("Convert an Ansible inventory (INI or YAML) into a targets file")
    .argument("<file>", "the inventory file (INI, YAML or JSON, as Ansible reads them)")
    .option("--write <file>", "write the targets here; an existing file keeps its entries and comments")
    .addOption(
      new Option("--format <format>", "inventory format (default: from the file name and content)").choices([
        "ini",
        "yaml",
      ]),
    )
    .addHelpText(
      "after",
      `
Groups (and their parents through :children) become labels \`group/<name>: "true"\`; host and
group vars become vars (merged as Ansible merges them); ansible_host, ansible_port and ansible_user
become host, port and user. Passwords and key files are never copied: they belong in credentials/.
What was left out is listed on standard error.

Without --write the targets file is printed on standard output.

Examples:
  $ opsc import ansible-inventory hosts.ini
  $ opsc import ansible-inventory inventory.yaml --write targets/imported.yaml
  $ opsc import ansible-inventory production --format ini --write targets/prod.yaml && opsc validate

See docs/migrating-from-ansible.md.`,
    )
    .action(async (file: string, opts: { write?: string; format?: InventoryFormat }) => {
      // Loaded on use, so `opsc --help` and `--version` stay quick.
      const { importInventory } = await import("../../app/import-inventory.js");
      const result = importInventory({
        file,
        ...(opts.write ? { write: opts.write } : {}),
        ...(opts.format ? { format: opts.format } : {}),
      });
      for (const note of result.converted.notes) process.stderr.write(`note: ${note}\n`);
      for (const s of result.skipped) process.stderr.write(`skipped ${s.id}: ${s.reason}\n`);
      if (opts.write) {
        process.stderr.write(
          `${result.added.length} target(s) added to ${opts.write}, ${result.skipped.length} skipped\n`,
        );
      } else {
        process.stdout.write(result.text);
      }
    });
}
