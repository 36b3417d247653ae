package forecast

import (
	"bufio"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"time"
)

// Layout of the picture, in SVG user units.
const (
	svgWidth  = 1200
	labelW    = 170 // lane labels on the left
	rightPad  = 20
	topPad    = 56 // title and axis
	laneH     = 26
	laneGap   = 12
	cdsH      = 6
	legendH   = 60
	plotWidth = svgWidth - labelW - rightPad
)

// stateColors are the fills of the key states; the legend lists them in this order.
var stateColors = []struct{ state, fill, label string }{
	{"published", "#cfe0fc", "published (in DNSKEY, not yet in every cache)"},
	{"ready", "#7fa8f0", "ready (waits for the parent's DS)"},
	{"active", "#2f9e55", "active (signs / trust anchor)"},
	{"retired", "#f0a848", "retired (published, no longer signs)"},
}

func fill(state string) string {
	for _, c := range stateColors {
		if c.state == state {
			return c.fill
		}
	}
	return "#bbbbbb"
}

// SVG draws the forecast as a timeline: one lane per key with its states, the CDS/CDNSKEY
// windows under the KSK lanes, the parent's DS RRset as the last lane, month ticks and the
// start ("now"). It is self-contained (no fonts, scripts or links outside the file).
func (f Forecast) SVG(w io.Writer) error {
	bw := bufio.NewWriter(w)
	from, until := f.From, f.Until
	if !until.After(from) {
		until = from.Add(24 * time.Hour)
	}
	x := func(t time.Time) float64 {
		if t.Before(from) {
			t = from
		}
		if t.After(until) {
			t = until
		}
		return labelW + float64(t.Sub(from))/float64(until.Sub(from))*plotWidth
	}
	// A finding is a sentence or two: wrapped to the picture's width, about 7 px a character
	// at 12 px sans-serif.
	var findings [][]string
	findingLines := 0
	for _, fd := range f.Findings {
		lines := wrap(strings.ToUpper(string(fd.Severity))+" "+fd.Interval+": "+fd.Message, (svgWidth-16)/7)
		findings = append(findings, lines)
		findingLines += len(lines)
	}
	height := topPad + len(f.Lanes)*(laneH+laneGap) + legendH + 16*findingLines
	fmt.Fprintf(bw, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		svgWidth, height, svgWidth, height)
	fmt.Fprintf(bw, `<rect width="100%%" height="100%%" fill="#ffffff"/>`+"\n")
	fmt.Fprintf(bw, `<text x="8" y="18" font-size="15" font-weight="bold">%s</text>`+"\n",
		esc(fmt.Sprintf("%s rollover plan, %s to %s (ZSK lifetime %s, KSK rollover %s)", f.Zone,
			from.UTC().Format("2006-01-02"), until.UTC().Format("2006-01-02"), f.Policy.ZSKLifetime, f.Policy.KSKRollover)))

	// Month ticks; every month labelled unless they would crowd.
	axisY := topPad - 8
	months := 0
	for m := time.Date(from.Year(), from.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, 1, 0); !m.After(until); m = m.AddDate(0, 1, 0) {
		months++
	}
	step := 1 + months/14
	i := 0
	for m := time.Date(from.Year(), from.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, 1, 0); !m.After(until); m = m.AddDate(0, 1, 0) {
		mx := x(m)
		fmt.Fprintf(bw, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#dddddd"/>`+"\n", mx, axisY, mx, height-legendH-16*findingLines)
		// The first month's label is left out when it would run into "now" at the plot's edge.
		if i%step == 0 && mx-x(from) >= 30 {
			fmt.Fprintf(bw, `<text x="%.1f" y="%d" text-anchor="middle" fill="#555555">%s</text>`+"\n", mx, axisY-4, m.Format("2006-01"))
		}
		i++
	}

	for li, l := range f.Lanes {
		y := topPad + li*(laneH+laneGap)
		label := l.Role + " " + l.Key
		if l.Role == "DS" {
			label = "DS at the parent"
		}
		fmt.Fprintf(bw, `<text class="lane" x="8" y="%d">%s</text>`+"\n", y+laneH/2+4, esc(label))
		fmt.Fprintf(bw, `<rect x="%d" y="%d" width="%d" height="%d" fill="#f6f6f6"/>`+"\n", labelW, y, plotWidth, laneH)
		for si, sp := range l.Spans {
			end := sp.Until
			if end.IsZero() || end.After(until) {
				end = until
			}
			if !end.After(from) || sp.From.After(until) {
				continue
			}
			x0, x1 := x(sp.From), x(end)
			color := fill(sp.State)
			if l.Role == "DS" {
				color = []string{"#d9c8f0", "#c0a6e8"}[si%2]
			}
			fmt.Fprintf(bw, `<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"><title>%s</title></rect>`+"\n",
				x0, y, max(x1-x0, 1), laneH, color, esc(fmt.Sprintf("%s %s: %s from %s", l.Role, l.Key, sp.State, stamp(sp.From))))
			if l.Role == "DS" && x1-x0 > 60 {
				fmt.Fprintf(bw, `<text x="%.1f" y="%d" font-size="11">%s</text>`+"\n", x0+4, y+laneH/2+4, esc(sp.State))
			}
		}
		for _, sp := range l.Spans {
			// A tick at every transition, so that short states stay visible.
			if l.Role != "DS" && !sp.From.Before(from) && !sp.From.After(until) {
				fmt.Fprintf(bw, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#333333"/>`+"\n", x(sp.From), y, x(sp.From), y+laneH)
			}
		}
		for _, c := range l.CDS {
			end := c.Until
			if end.IsZero() || end.After(until) {
				end = until
			}
			if !end.After(from) || c.From.After(until) {
				continue
			}
			x0, x1 := x(c.From), x(end)
			fmt.Fprintf(bw, `<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="#8a3fd1"><title>%s</title></rect>`+"\n",
				x0, y+laneH+1, max(x1-x0, 2), cdsH, esc(fmt.Sprintf("CDS/CDNSKEY for %s %s from %s", l.Role, l.Key, stamp(c.From))))
			tx, anchor := x1+4, "start"
			if tx > svgWidth-200 { // no room on the right: put the label left of the mark
				tx, anchor = x0-4, "end"
			}
			fmt.Fprintf(bw, `<text x="%.1f" y="%d" font-size="10" fill="#6a2fa1" text-anchor="%s">%s</text>`+"\n",
				tx, y+laneH+cdsH+2, anchor, esc("CDS/CDNSKEY from "+c.From.UTC().Format("2006-01-02 15:04")))
		}
	}
	// Now, the start of the projection.
	nowX := x(from)
	bottom := topPad + len(f.Lanes)*(laneH+laneGap)
	fmt.Fprintf(bw, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#d03030" stroke-width="2" stroke-dasharray="4 3"/>`+"\n", nowX, axisY, nowX, bottom)
	// Above the axis, left of the line: inside the plot it would cover the first lane's spans.
	fmt.Fprintf(bw, `<text x="%.1f" y="%d" fill="#d03030" text-anchor="end">now</text>`+"\n", nowX-3, axisY-4)

	// Legend.
	lx, ly := 8, bottom+14
	for _, c := range stateColors {
		fmt.Fprintf(bw, `<rect x="%d" y="%d" width="14" height="12" fill="%s"/><text x="%d" y="%d">%s</text>`+"\n", lx, ly, c.fill, lx+18, ly+10, esc(c.label))
		lx += 18 + 7*len(c.label)
	}
	ly += 22
	fmt.Fprintf(bw, `<rect x="8" y="%d" width="14" height="6" fill="#8a3fd1"/><text x="26" y="%d">CDS/CDNSKEY published (RFC 7344); the parent is assumed to follow it after %s</text>`+"\n", ly+3, ly+10, esc(f.Policy.ParentDelay))
	line := 0
	for i, fd := range f.Findings {
		color := "#a06000"
		if fd.Severity == Error {
			color = "#c00000"
		}
		for _, l := range findings[i] {
			fmt.Fprintf(bw, `<text x="8" y="%d" fill="%s">%s</text>`+"\n", ly+28+16*line, color, esc(l))
			line++
		}
	}
	fmt.Fprintln(bw, `</svg>`)
	return bw.Flush()
}

// wrap splits s at spaces into lines of at most width characters (a longer word stands
// alone on its line).
func wrap(s string, width int) []string {
	var lines []string
	cur := ""
	for _, w := range strings.Fields(s) {
		if cur != "" && len([]rune(cur))+1+len([]rune(w)) > width {
			lines = append(lines, cur)
			cur = ""
		}
		if cur != "" {
			cur += " "
		}
		cur += w
	}
	if cur != "" || len(lines) == 0 {
		lines = append(lines, cur)
	}
	return lines
}

func esc(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}
