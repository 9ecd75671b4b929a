// A container's command line as the kubelet hands it to the runtime: $(NAME)
// replaced by the value of the container's env variable NAME, here with
// spec.nodeName given by the caller. A $(NAME) the env does not define is an
// error (the kubelet would pass it through as text, which no test means).
import type { Obj } from '../../harness/deploy.js';

export function kubeletExpand(container: Obj, words: readonly string[], nodeName: string): string[] {
  const env = new Map<string, string>();
  for (const e of (container.env ?? []) as Obj[]) {
    if (e.valueFrom?.fieldRef?.fieldPath === 'spec.nodeName') env.set(e.name, nodeName);
    else if (typeof e.value === 'string') env.set(e.name, e.value);
  }
  return words.map((w) =>
    w.replace(/\$\((\w+)\)/g, (_whole, name: string) => {
      const value = env.get(name);
      if (value === undefined) throw new Error(`${w}: $(${name}) is not in the container's env`);
      return value;
    }),
  );
}
