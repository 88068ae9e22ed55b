(...values) => {
  // The teacher's link carries its key after '#' (…/?class=CODE#key=KEY): browsers never send
  // that part to a server, so it stays out of access logs. Read here, it travels in the page-load
  // request's body as the last input (ui/tabs/class_tab.py).
  const key = new URLSearchParams(window.location.hash.slice(1)).get("key") || "";
  return [...values.slice(0, -1), key];
}
