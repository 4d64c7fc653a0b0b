import { useEffect, useState, type AnchorHTMLAttributes } from 'react';

/** A router of a few lines: the path is the state, links push history entries. */

const listeners = new Set<() => void>();
window.addEventListener('popstate', () => listeners.forEach((l) => l()));

export function navigate(to: string) {
  history.pushState(null, '', to);
  listeners.forEach((l) => l());
}

export function useLocation(): URL {
  const [, render] = useState(0);
  useEffect(() => {
    const l = () => render((n) => n + 1);
    listeners.add(l);
    return () => void listeners.delete(l);
  }, []);
  return new URL(window.location.href);
}

export function Link(props: AnchorHTMLAttributes<HTMLAnchorElement> & { href: string }) {
  return (
    <a
      {...props}
      onClick={(e) => {
        if (e.metaKey || e.ctrlKey || e.button !== 0) return;
        e.preventDefault();
        navigate(props.href);
      }}
    />
  );
}
