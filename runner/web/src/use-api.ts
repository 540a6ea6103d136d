/** Data from a GET route, refreshed every `pollMs` when given. */
import { useEffect, useState } from "react";
import { get } from "./api.js";

export interface Loaded<T> {
  data?: T;
  error?: string;
  status?: number;
}

export function useApi<T>(path: string | undefined, pollMs?: number): Loaded<T> {
  const [state, setState] = useState<Loaded<T>>({});
  useEffect(() => {
    if (!path) return;
    let live = true;
    const load = async (): Promise<void> => {
      try {
        const data = await get<T>(path);
        if (live) setState({ data });
      } catch (e) {
        const err = e as { message: string; status?: number };
        if (live) setState((s) => ({ ...s, error: err.message, status: err.status ?? 0 }));
      }
    };
    void load();
    const timer = pollMs ? setInterval(() => void load(), pollMs) : undefined;
    return () => {
      live = false;
      if (timer) clearInterval(timer);
    };
  }, [path, pollMs]);
  return state;
}
