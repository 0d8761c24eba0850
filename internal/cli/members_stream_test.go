package cli

import (
	"bytes"
	"fmt"
	"io"
	"testing"
	"text/tabwriter"

	"github.com/kordon-dev/kordon/internal/model"
)

// TestMembersStreamed checks that members, printing one group at a time,
// prints what the whole report printed at once gives, in every format.
func TestMembersStreamed(t *testing.T) {
	o, err := load([]string{policyFile}, invDir, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	paths := model.Paths(o.cfg.Groups)
	for _, n := range []int{0, 1, len(paths)} {
		rep := membersReport{Groups: []groupMembers{}}
		for _, p := range paths[:n] {
			rep.Groups = append(rep.Groups, groupReport(o.idx, p, o.cfg.Groups[p], true))
		}
		for _, format := range []string{"json", "yaml", "table"} {
			var want, got bytes.Buffer
			if format == "table" {
				wholeTable(&want, rep.Groups)
			} else if _, err := printStructured(&want, format, rep); err != nil {
				t.Fatal(err)
			}
			if err := printGroups(&got, format, n, func(i int) groupMembers { return rep.Groups[i] }); err != nil {
				t.Fatal(err)
			}
			if got.String() != want.String() {
				t.Errorf("%d groups, -o %s:\n--- streamed\n%s\n--- whole\n%s", n, format, got.String(), want.String())
			}
		}
	}
}

// wholeTable is the table as members printed it from the whole report.
func wholeTable(w io.Writer, groups []groupMembers) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "GROUP\tOBJECTS\tADDRESSES\tIP+PORT")
	for _, g := range groups {
		var ipp []string
		for _, m := range g.IPPortMembers {
			ipp = append(ipp, m.String())
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", oneLine(g.Path), len(g.Members), orNone(oneLine(abbreviate(g.IPAddresses, 4))), orNone(abbreviate(ipp, 3)))
	}
	tw.Flush()
}
