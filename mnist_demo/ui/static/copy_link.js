(query) => {
  // The server writes the query, the page prefixes its own address and copies the link.
  if (!query || query.startsWith("http")) return query;
  const url = window.location.origin + window.location.pathname + "?" + query;
  if (navigator.clipboard) navigator.clipboard.writeText(url).catch(() => {});
  return url;
}
