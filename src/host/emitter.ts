/** A minimal typed event emitter with VS Code's shape (`event(listener) → { dispose }`), without `vscode`. */

export interface Disposable {
  dispose(): void;
}

export type Event<T> = (listener: (value: T) => void) => Disposable;

export class Emitter<T> {
  private readonly listeners = new Set<(value: T) => void>();

  readonly event: Event<T> = (listener) => {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  };

  fire(value: T): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(value);
      } catch {
        // A listener's failure must not stop the others or the code that fired.
      }
    }
  }

  dispose(): void {
    this.listeners.clear();
  }
}
