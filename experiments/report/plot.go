package report

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"os"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Figure is a chart drawn like the paper's figures: bars on the left axis (medians, with
// p5–p95 whiskers when given) and a line with round markers on its own axis on the right.
// gonum/plot has one y axis per plot, so the line and its axis are drawn by hand over the
// bar plot's data area.
type Figure struct {
	Name      string // file name without extension
	Title     string
	XLabel    string
	Labels    []string  // one per bar
	Bars      []float64 // NaN draws no bar
	Low, High []float64 // optional whiskers (p5, p95)
	BarsLabel string
	Line      []float64 // optional; NaN skips the point
	LineLabel string
}

// Size of the figures.
const (
	figWidth  = 16 * vg.Centimeter
	figHeight = 10 * vg.Centimeter
	rightAxis = 60 // points kept free for the right axis
)

var (
	barColor  = color.Gray{Y: 170}
	lineStyle = draw.LineStyle{Color: color.Black, Width: vg.Points(1.5)}
	glyph     = draw.GlyphStyle{Color: color.Black, Shape: draw.CircleGlyph{}, Radius: vg.Points(3)}
	axisStyle = draw.LineStyle{Color: color.Black, Width: vg.Points(0.5)}
)

// WriteFiles writes <dir>/<Name>.svg and <dir>/<Name>.png.
func (f Figure) WriteFiles(dir string) error {
	svg := vgsvg.New(figWidth, figHeight)
	if err := f.Draw(draw.New(svg)); err != nil {
		return err
	}
	if err := writeTo(dir+"/"+f.Name+".svg", svg); err != nil {
		return err
	}
	img := vgimg.NewWith(vgimg.UseWH(figWidth, figHeight), vgimg.UseDPI(110))
	if err := f.Draw(draw.New(img)); err != nil {
		return err
	}
	return writeTo(dir+"/"+f.Name+".png", vgimg.PngCanvas{Canvas: img})
}

func writeTo(path string, w io.WriterTo) error {
	file, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := w.WriteTo(file); err != nil {
		file.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return file.Close()
}

// Draw draws the figure on c.
func (f Figure) Draw(c draw.Canvas) error {
	c.SetColor(color.White)
	c.Fill(c.Rectangle.Path())
	p := plot.New()
	p.Title.Text = f.Title
	p.X.Label.Text = f.XLabel
	p.Y.Label.Text = f.BarsLabel
	bars, err := plotter.NewBarChart(plotter.Values(noNaN(f.Bars)), vg.Points(min(40, 300/float64(max(1, len(f.Bars))))))
	if err != nil {
		return fmt.Errorf("figure %s: %w", f.Name, err)
	}
	bars.Color = barColor
	bars.LineStyle.Width = 0
	p.Add(bars)
	if len(f.Low) == len(f.Bars) && len(f.High) == len(f.Bars) {
		eb, err := plotter.NewYErrorBars(whiskers{f.Bars, f.Low, f.High})
		if err != nil {
			return fmt.Errorf("figure %s: %w", f.Name, err)
		}
		p.Add(eb)
	}
	p.NominalX(f.Labels...)
	// Half a category of room each side, so the outer bars stay inside the data area and
	// clear of the right axis.
	p.X.Min, p.X.Max = -0.5, float64(len(f.Bars))-0.5
	p.Y.Min, p.Y.Max = 0, top(f.Bars, f.High)
	p.Legend.Top = true
	p.Legend.XOffs = -vg.Points(12) // clear of the right axis' top label
	p.Legend.Add(f.BarsLabel, bars)
	if len(f.Line) > 0 {
		p.Legend.Add(f.LineLabel, lineThumb{})
	}
	area := c
	if len(f.Line) > 0 {
		area = draw.Crop(c, 0, -rightAxis, 0, 0)
	}
	p.Draw(area)
	if len(f.Line) > 0 {
		f.drawLine(c, p, p.DataCanvas(area))
	}
	return nil
}

// drawLine draws the line over the bars' data area dc with its own scale, and its axis
// at the right edge of c.
func (f Figure) drawLine(c draw.Canvas, p *plot.Plot, dc draw.Canvas) {
	ymax := top(f.Line, nil)
	y := func(v float64) vg.Length { return dc.Min.Y + vg.Length(v/ymax)*(dc.Max.Y-dc.Min.Y) }
	var pts []vg.Point
	for i, v := range f.Line {
		if !math.IsNaN(v) {
			pts = append(pts, vg.Point{X: dc.X(p.X.Norm(float64(i))), Y: y(v)})
		}
	}
	c.StrokeLines(lineStyle, pts)
	for _, pt := range pts {
		c.DrawGlyph(glyph, pt)
	}
	x := dc.Max.X + vg.Points(2)
	c.StrokeLine2(axisStyle, x, dc.Min.Y, x, dc.Max.Y)
	tick := p.Y.Tick.Label
	tick.XAlign, tick.YAlign = draw.XLeft, draw.YCenter
	for _, t := range (plot.DefaultTicks{}).Ticks(0, ymax) {
		if t.Label == "" || t.Value > ymax {
			continue
		}
		c.StrokeLine2(axisStyle, x, y(t.Value), x+vg.Points(4), y(t.Value))
		c.FillText(tick, vg.Point{X: x + vg.Points(6), Y: y(t.Value)}, t.Label)
	}
	label := p.Y.Label.TextStyle
	label.Rotation = -math.Pi / 2
	label.XAlign, label.YAlign = draw.XCenter, draw.YTop
	c.FillText(label, vg.Point{X: c.Max.X - vg.Points(4), Y: (dc.Min.Y + dc.Max.Y) / 2}, f.LineLabel)
}

// top is the axis maximum: a quarter above the largest value (room for the legend).
func top(xs, more []float64) float64 {
	m := 0.0
	for _, x := range append(append([]float64{}, xs...), more...) {
		if !math.IsNaN(x) && !math.IsInf(x, 0) {
			m = max(m, x)
		}
	}
	if m == 0 {
		return 1
	}
	return m * 1.25
}

func noNaN(xs []float64) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		if !math.IsNaN(x) && !math.IsInf(x, 0) {
			out[i] = x
		}
	}
	return out
}

// whiskers are the bars' p5–p95 ranges for plotter.YErrorBars.
type whiskers struct{ y, low, high []float64 }

func (w whiskers) Len() int                    { return len(w.y) }
func (w whiskers) XY(i int) (float64, float64) { return float64(i), finite(w.y[i]) }
func (w whiskers) YError(i int) (float64, float64) {
	return finite(w.y[i] - w.low[i]), finite(w.high[i] - w.y[i])
}
func finite(x float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0
	}
	return x
}

// lineThumb is the line's legend entry: a stroke with a round marker.
type lineThumb struct{}

func (lineThumb) Thumbnail(c *draw.Canvas) {
	y := (c.Min.Y + c.Max.Y) / 2
	c.StrokeLine2(lineStyle, c.Min.X, y, c.Max.X, y)
	c.DrawGlyph(glyph, vg.Point{X: (c.Min.X + c.Max.X) / 2, Y: y})
}
