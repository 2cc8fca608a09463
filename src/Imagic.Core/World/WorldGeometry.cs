namespace Imagic.World;

/// <summary>
/// Where and how big objects are, and which points each shape covers. All lengths are fractions of
/// the image width (the canvas is the unit square, y pointing down), so a scene renders the same at any resolution.
/// </summary>
/// <remarks>
/// The sizes are bounded by the grid: a corner object is centred 1/6 from two edges, so a half-extent
/// above 1/6 would leave the canvas. Large (0.155) leaves a third of a pixel to spare at 32×32;
/// Small (0.085, a 5.4 px wide object at 32×32) is about the smallest at which a star, a ring and a
/// circle stay distinguishable. Each step is ×1.3–1.4 in length, about ×2 in area.
/// </remarks>
public static class WorldGeometry
{
    /// <summary>Narrow axis ÷ long axis of a <see cref="Pose.Tall"/> or <see cref="Pose.Wide"/> object: 0.6.</summary>
    public const double PoseRatio = 0.6;

    /// <summary>
    /// Smallest gap between the bounding boxes of two objects: 0.06 (about 2 px at 32×32), so their
    /// anti-aliased edges never touch and a detector sees two separate blobs.
    /// </summary>
    public const double MinGap = 0.06;

    /// <summary>Ring stroke width as a fraction of the ring's narrow half-axis: 0.45.</summary>
    /// <remarks>Relative to the narrow axis so a tall small ring still shows a hole.</remarks>
    public const double RingThickness = 0.45;

    /// <summary>Inner ÷ outer radius of the five-pointed star: 0.5, fatter than the classic 0.38 so the arms survive at 32×32.</summary>
    public const double StarInnerRadius = 0.5;

    /// <summary>Half-extent of the long axis for each size: Small 0.085, Medium 0.12, Large 0.155.</summary>
    public static double HalfExtent(Size size) => size switch
    {
        Size.Small => 0.085,
        Size.Medium => 0.12,
        Size.Large => 0.155,
        _ => throw new ArgumentOutOfRangeException(nameof(size), size, null),
    };

    /// <summary>Horizontal and vertical half-extents of an object's bounding box.</summary>
    public static (double Hx, double Hy) HalfExtents(Size size, Pose pose)
    {
        double r = HalfExtent(size);
        return pose switch
        {
            Pose.Regular => (r, r),
            Pose.Tall => (r * PoseRatio, r),
            Pose.Wide => (r, r * PoseRatio),
            _ => throw new ArgumentOutOfRangeException(nameof(pose), pose, null),
        };
    }

    /// <summary>Column (0 = left) and row (0 = top) of a grid cell.</summary>
    public static (int Column, int Row) Cell(GridPosition position) => ((int)position % 3, (int)position / 3);

    /// <summary>The grid cell in column <paramref name="column"/> and row <paramref name="row"/> (each 0–2).</summary>
    public static GridPosition PositionOf(int column, int row) =>
        column is >= 0 and < 3 && row is >= 0 and < 3
            ? (GridPosition)(row * 3 + column)
            : throw new ArgumentOutOfRangeException(nameof(column), $"cell ({column}, {row}) is outside the 3×3 grid");

    /// <summary>The cell containing the point (x, y) of the unit canvas; points outside are clamped to the nearest cell.</summary>
    public static GridPosition PositionAt(double x, double y) =>
        PositionOf(Math.Clamp((int)Math.Floor(x * 3), 0, 2), Math.Clamp((int)Math.Floor(y * 3), 0, 2));

    /// <summary>Centre of a grid cell: 1/6, 3/6 or 5/6 on each axis.</summary>
    public static (double X, double Y) Center(GridPosition position)
    {
        var (column, row) = Cell(position);
        return ((2 * column + 1) / 6.0, (2 * row + 1) / 6.0);
    }

    /// <summary>
    /// The object's bounding box as (left, top, right, bottom) on the unit canvas; for a rotated world-v2
    /// object, the box of its rotated bounding box.
    /// </summary>
    public static (double Left, double Top, double Right, double Bottom) Bounds(SceneObject obj)
    {
        if (obj.Detail is null)
        {
            var (cx, cy) = Center(obj.Position);
            var (hx, hy) = HalfExtents(obj.Size, obj.Pose);
            return (cx - hx, cy - hy, cx + hx, cy + hy);
        }
        var p = Place(obj);
        var (ex, ey) = p.Extents;
        return (p.Cx - ex, p.Cy - ey, p.Cx + ex, p.Cy + ey);
    }

    /// <summary>
    /// Where an object is drawn: its centre, its half-extents before rotation and its rotation. A v1 object
    /// sits on its cell centre at its class's half-extents, upright. A v2 object is scaled by its detail,
    /// rotated, and moved by its offset, clamped so that its rotated box stays inside the canvas: a Large
    /// object in a corner has almost no room and stays near the cell centre.
    /// </summary>
    public static ObjectPlacement Place(SceneObject obj)
    {
        var (cx, cy) = Center(obj.Position);
        var (hx, hy) = HalfExtents(obj.Size, obj.Pose);
        if (obj.Detail is not { } d)
            return new ObjectPlacement(cx, cy, hx, hy, 0);
        var rotated = new ObjectPlacement(0, 0, hx * d.Scale, hy * d.Scale, d.Rotation * Math.PI / 180);
        var (ex, ey) = rotated.Extents;
        return rotated with
        {
            Cx = Math.Clamp(cx + d.OffsetX, ex, 1 - ex),
            Cy = Math.Clamp(cy + d.OffsetY, ey, 1 - ey),
        };
    }

    /// <summary>Whether a v2 object and a clutter object are at least <see cref="MinGap"/> apart.</summary>
    public static bool Separated(SceneObject obj, Clutter clutter)
    {
        var (al, at, ar, ab) = Bounds(obj);
        var (bl, bt, br, bb) = clutter.Bounds;
        return Math.Max(Math.Max(bl - ar, al - br), Math.Max(bt - ab, at - bb)) >= MinGap;
    }

    /// <summary>
    /// Whether the point at offset (dx, dy) from the centre of a shape with half-extents (hx, hy), rotated
    /// by <paramref name="angle"/> radians (clockwise on screen), is inside the shape.
    /// </summary>
    public static bool Contains(Shape shape, double dx, double dy, double hx, double hy, double angle)
    {
        if (angle == 0)
            return Contains(shape, dx, dy, hx, hy);
        double cos = Math.Cos(angle), sin = Math.Sin(angle);
        return Contains(shape, cos * dx + sin * dy, -sin * dx + cos * dy, hx, hy);
    }

    /// <summary>Whether the object lies wholly inside the canvas.</summary>
    public static bool InsideCanvas(SceneObject obj)
    {
        var (l, t, r, b) = Bounds(obj);
        return l >= 0 && t >= 0 && r <= 1 && b <= 1;
    }

    /// <summary>
    /// Gap between two objects' bounding boxes (the larger of the horizontal and vertical gaps);
    /// negative when the boxes overlap.
    /// </summary>
    public static double Gap(SceneObject a, SceneObject b)
    {
        var (al, at, ar, ab) = Bounds(a);
        var (bl, bt, br, bb) = Bounds(b);
        double gapX = Math.Max(bl - ar, al - br);
        double gapY = Math.Max(bt - ab, at - bb);
        return Math.Max(gapX, gapY);
    }

    /// <summary>Whether two objects are at least <see cref="MinGap"/> apart.</summary>
    public static bool Separated(SceneObject a, SceneObject b) => Gap(a, b) >= MinGap;

    /// <summary>
    /// Whether the point at offset (dx, dy) from the centre of a shape with half-extents (hx, hy)
    /// is inside the shape.
    /// </summary>
    /// <remarks>
    /// Each test is the sign of the shape's implicit function in coordinates scaled to the unit box
    /// [−1, 1]², which is all that supersampled coverage needs. The ring is the exception: its hole is
    /// the outer ellipse shrunk by a fixed stroke width, so the stroke does not thin out on the narrow axis.
    /// </remarks>
    public static bool Contains(Shape shape, double dx, double dy, double hx, double hy)
    {
        double u = dx / hx, v = dy / hy;
        if (u < -1 || u > 1 || v < -1 || v > 1)
            return false;
        switch (shape)
        {
            case Shape.Circle:
                return u * u + v * v <= 1;
            case Shape.Square:
                return true;
            case Shape.Triangle:
                // Apex at the top centre (0, −1), base along v = 1.
                return Math.Abs(u) <= (v + 1) / 2;
            case Shape.Star:
                return StarContains(u, v);
            case Shape.Ring:
                if (u * u + v * v > 1)
                    return false;
                double t = RingThickness * Math.Min(hx, hy);
                double iu = dx / (hx - t), iv = dy / (hy - t);
                return iu * iu + iv * iv > 1;
            default:
                throw new ArgumentOutOfRangeException(nameof(shape), shape, null);
        }
    }

    // A regular five-pointed star with one point up, stretched per axis so it fills [−1, 1]² exactly
    // like the other shapes; a point is inside if it is inside any of the five triangles from the centre.
    static readonly (double X, double Y)[] StarVertices = MakeStar();

    static (double X, double Y)[] MakeStar()
    {
        var raw = new (double X, double Y)[10];
        for (int k = 0; k < 10; k++)
        {
            double radius = k % 2 == 0 ? 1.0 : StarInnerRadius;
            double angle = -Math.PI / 2 + k * Math.PI / 5;
            raw[k] = (radius * Math.Cos(angle), radius * Math.Sin(angle));
        }
        double minX = raw.Min(p => p.X), maxX = raw.Max(p => p.X);
        double minY = raw.Min(p => p.Y), maxY = raw.Max(p => p.Y);
        return raw.Select(p => (
            2 * (p.X - minX) / (maxX - minX) - 1,
            2 * (p.Y - minY) / (maxY - minY) - 1)).ToArray();
    }

    static bool StarContains(double u, double v)
    {
        // Even–odd ray casting over the 10-gon; the polygon is simple so this is exact.
        var pts = StarVertices;
        bool inside = false;
        for (int i = 0, j = pts.Length - 1; i < pts.Length; j = i++)
        {
            if ((pts[i].Y > v) != (pts[j].Y > v)
                && u < (pts[j].X - pts[i].X) * (v - pts[i].Y) / (pts[j].Y - pts[i].Y) + pts[i].X)
                inside = !inside;
        }
        return inside;
    }
}

/// <summary>Where an object is drawn (<see cref="WorldGeometry.Place"/>): centre and half-extents in canvas units, rotation in radians.</summary>
public readonly record struct ObjectPlacement(double Cx, double Cy, double Hx, double Hy, double Angle)
{
    /// <summary>Half-width and half-height of the rotated bounding box.</summary>
    public (double X, double Y) Extents
    {
        get
        {
            double cos = Math.Abs(Math.Cos(Angle)), sin = Math.Abs(Math.Sin(Angle));
            return (Hx * cos + Hy * sin, Hx * sin + Hy * cos);
        }
    }
}
