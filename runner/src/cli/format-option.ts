/** `--format text|json`, the one output switch of every command that prints data. */
import { Option } from "commander";

export interface FormatOpts {
  format: "text" | "json";
  /** The old spelling some commands had; hidden from --help. */
  json?: boolean;
}

export function formatOption(): Option {
  return new Option("--format <format>", "output format").choices(["text", "json"]).default("text");
}

/** The old spelling, kept working for scripts; hidden from --help. */
export function jsonAlias(): Option {
  return new Option("--json", "same as --format json (deprecated)").hideHelp();
}

export function wantsJson(opts: FormatOpts): boolean {
  return opts.format === "json" || opts.json === true;
}
