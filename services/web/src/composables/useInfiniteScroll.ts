import { onActivated, onBeforeUnmount, onDeactivated, onMounted, type Ref } from "vue";

/**
 * Calls `onReach` whenever the sentinel element comes near the viewport. `recheck()` asks
 * again after a page loaded: a short page can leave the sentinel in view, and an
 * observer only reports changes.
 */
export function useInfiniteScroll(sentinel: Ref<HTMLElement | null>, onReach: () => void): { recheck: () => void } {
  let observer: IntersectionObserver | null = null;

  function start(): void {
    if (observer || typeof IntersectionObserver === "undefined") return;
    observer = new IntersectionObserver(
      (entries) => {
        if (entries.some((entry) => entry.isIntersecting)) onReach();
      },
      { rootMargin: "800px 0px" },
    );
    if (sentinel.value) observer.observe(sentinel.value);
  }

  function stop(): void {
    observer?.disconnect();
    observer = null;
  }

  function recheck(): void {
    if (!observer || !sentinel.value) return;
    // Observing again reports the current state at once.
    observer.unobserve(sentinel.value);
    observer.observe(sentinel.value);
  }

  onMounted(start);
  onActivated(start);
  onDeactivated(stop);
  onBeforeUnmount(stop);
  return { recheck };
}
