package netguard

import (
	"errors"
	"fmt"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// routeTable is the part of *netlink.Handle netguard uses.
type routeTable interface {
	RouteListFiltered(family int, filter *netlink.Route, filterMask uint64) ([]netlink.Route, error)
	RouteAdd(route *netlink.Route) error
	RouteDel(route *netlink.Route) error
	LinkList() ([]netlink.Link, error)
}

var _ routeTable = (*netlink.Handle)(nil)

// mainRoutes lists the main table's IPv4 and IPv6 routes. A kernel or
// namespace without IPv6 contributes no IPv6 routes rather than an error.
func mainRoutes(h routeTable) ([]netlink.Route, error) {
	filter := &netlink.Route{Table: unix.RT_TABLE_MAIN}
	v4, err := h.RouteListFiltered(netlink.FAMILY_V4, filter, netlink.RT_FILTER_TABLE)
	if err != nil {
		return nil, fmt.Errorf("list IPv4 routes: %w", err)
	}
	v6, err := h.RouteListFiltered(netlink.FAMILY_V6, filter, netlink.RT_FILTER_TABLE)
	if err != nil && !errors.Is(err, unix.EAFNOSUPPORT) {
		return nil, fmt.Errorf("list IPv6 routes: %w", err)
	}
	return append(v4, v6...), nil
}

// linkNames maps link indexes to names, for log lines; best effort.
func linkNames(h routeTable) map[int]string {
	names := map[int]string{}
	links, err := h.LinkList()
	if err != nil {
		return names
	}
	for _, l := range links {
		names[l.Attrs().Index] = l.Attrs().Name
	}
	return names
}

// result is what one apply changed and what it left.
type result struct {
	Prohibited []string // added prohibit routes
	Deleted    []string // deleted routes
	Kept       []string // main-table routes left as they were
	Prohibits  int      // IPv4 prohibit routes present afterwards
}

func (r result) changed() bool { return len(r.Prohibited)+len(r.Deleted) > 0 }

// apply lists the routes, plans and carries out the plan. It stops at the
// first failure, having made the changes before it.
func apply(h routeTable) (result, error) {
	var res result
	routes, err := mainRoutes(h)
	if err != nil {
		return res, err
	}
	names := linkNames(h)
	actions := Plan(routes)
	for _, a := range actions {
		r := a.Route
		switch a.Op {
		case OpProhibit:
			if err := h.RouteAdd(&r); err != nil && !errors.Is(err, unix.EEXIST) {
				return res, fmt.Errorf("add %s: %w", Describe(r, names), err)
			}
			res.Prohibited = append(res.Prohibited, Describe(r, names))
		case OpDelete:
			if err := h.RouteDel(&r); err != nil && !errors.Is(err, unix.ESRCH) {
				return res, fmt.Errorf("delete %s: %w", Describe(r, names), err)
			}
			res.Deleted = append(res.Deleted, Describe(r, names))
		}
	}
	after, err := mainRoutes(h)
	if err != nil {
		return res, err
	}
	for _, r := range after {
		if r.Type != unix.RTN_PROHIBIT {
			res.Kept = append(res.Kept, Describe(r, names))
		}
	}
	res.Prohibits = ipv4Prohibits(after)
	return res, nil
}
