"""What `threadloom dev` adds around the server: Studio URL and browser, debugger, tunnel,
the reloading supervisor, and `threadloom new`'s scaffold."""
