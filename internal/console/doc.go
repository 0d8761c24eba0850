// Package console is kordon's web console: pages for the people who run
// the firewall (overview, inventory, groups, the distributed and gateway
// firewalls, trace, advice) and the editors of groups and rules.
//
// The console owns presentation and nothing else. It has no access to the
// manager: every page is rendered from the JSON API, called in process
// with the browser's own credentials (its session cookie), so the route
// table decides what each person may see exactly as it does for any other
// client, and a page can show nothing the API would refuse. Changes are
// made by the pages' script calling the same API with the session's CSRF
// token. Pages are rendered on the server with html/template (contextual
// escaping: text from clusters and documents cannot become markup), and a
// small script without a build step follows the watch stream to refresh
// what is on screen; every asset is embedded in the binary.
package console
