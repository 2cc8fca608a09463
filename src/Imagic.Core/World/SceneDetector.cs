namespace Imagic.World;

/// <summary>One object found in an image, with its attributes snapped to the world's classes.</summary>
/// <param name="Shape">The best-fitting shape template.</param>
/// <param name="Color">The palette colour that best explains the object's pixels.</param>
/// <param name="Size">The best-fitting size class.</param>
/// <param name="Position">The grid cell holding the fitted centre.</param>
/// <param name="Pose">The best-fitting stretch.</param>
/// <param name="Area">Foreground pixels in the object's connected component.</param>
/// <param name="CenterX">Centre of the fitted shape's bounding box, in canvas units (0–1).</param>
/// <param name="CenterY">Centre of the fitted shape's bounding box, in canvas units (0–1), y down.</param>
/// <param name="FitError">Squared difference between the observed coverage and the best template, summed and divided by the template's bounding-box area in pixels; near 0 for a rendered scene.</param>
public sealed record DetectedObject(
    Shape Shape, NamedColor Color, Size Size, GridPosition Position, Pose Pose,
    int Area, double CenterX, double CenterY, double FitError)
{
    /// <summary>The fitted long half-extent, canvas units (world v2 only; 0 from the v1 reading).</summary>
    public double HalfExtent { get; init; }

    /// <summary>The fitted rotation in degrees, to the nearest template step (world v2 only).</summary>
    public double Rotation { get; init; }

    /// <summary>The object's mean core colour minus its palette colour; zero when no pixel is fully covered (world v2 only).</summary>
    public ColorF Shade { get; init; }

    /// <summary>The detected attributes as a scene object.</summary>
    public SceneObject ToSceneObject() => new(Shape, Color, Size, Position, Pose);
}

/// <summary>What <see cref="SceneDetector"/> found: the background and every object, largest first.</summary>
public sealed record Detection(Background Background, IReadOnlyList<DetectedObject> Objects);

/// <summary>
/// Reads a scene back from an image: the ground-truth oracle of the editing benchmark. It knows the
/// world (palette, sizes, shapes) and inverts the renderer, so it also reads imperfect model outputs.
/// </summary>
/// <remarks>
/// Steps, for an image of side n:
/// <list type="number">
/// <item>Background: per-channel median of the border pixels, snapped to the nearest background colour.</item>
/// <item>Foreground: pixels farther than <see cref="ForegroundThreshold"/> from the background,
/// grouped into 8-connected components of at least <see cref="MinArea"/> pixels and
/// <see cref="MinCoverage"/> pixels' worth of coverage.</item>
/// <item>Colour: the mean m of a component's core pixels (within 80% of its largest distance from the
/// background). Each allowed colour c explains m as a mix bg + α(c − bg); the colour with the smallest
/// residual wins, with a small penalty on α &lt; 1 to break ties toward the pure colour. Unmixing
/// rather than nearest colour matters for thin strokes (a small tall ring) whose pixels are never fully covered.</item>
/// <item>Coverage: every pixel of the component and its one-pixel halo is unmixed against that colour,
/// giving α in [0, 1], the same quantity the renderer draws.</item>
/// <item>Shape, size and pose: all 45 templates (shape × size × pose) are rendered with their area
/// centroid on the observed α centroid and compared with it both sharp and blurred (a generated
/// image is softer than the renderer's edges); the least squared difference wins.
/// Position is the grid cell of the winning template's centre.</item>
/// </list>
/// </remarks>
public static partial class SceneDetector
{
    /// <summary>RGB distance from the background above which a pixel is foreground: 0.2 (half of <see cref="Palette.MinContrast"/>).</summary>
    public const float ForegroundThreshold = 0.2f;

    /// <summary>Smallest component kept as an object, in pixels: 3. Smaller specks are noise.</summary>
    public const int MinArea = 3;

    /// <summary>
    /// Smallest total coverage Σα kept as an object, in pixels: 3. Noise on a large flat background
    /// forms faint blobs of a few pixels; the smallest object (a small tall star) covers about 8.
    /// </summary>
    public const double MinCoverage = 3;

    const float CoreFraction = 0.8f;
    const float PurityPenalty = 0.25f;
    const int TemplateSupersample = 4;

    /// <summary>Detects the scene in a CHW float image of <paramref name="size"/>×<paramref name="size"/> pixels.</summary>
    public static Detection Detect(float[] chw, int size) => Detect(new SceneImage(size, chw));

    /// <summary>Detects the scene in <paramref name="image"/>.</summary>
    public static Detection Detect(SceneImage image)
    {
        var background = DetectBackground(image);
        var bg = Palette.Of(background);

        var labels = LabelComponents(image.Size, i => IsForeground(image, i, image.Size, bg), out var components);
        var objects = new List<DetectedObject>();
        for (int k = 0; k < components.Count; k++)
        {
            if (components[k].Count >= MinArea && DetectObject(image, background, labels, k + 1, components[k]) is { } obj)
                objects.Add(obj);
        }
        objects.Sort((a, b) => b.Area.CompareTo(a.Area));
        return new Detection(background, objects);
    }

    static Background DetectBackground(SceneImage image)
    {
        int n = image.Size;
        var r = new List<float>();
        var g = new List<float>();
        var b = new List<float>();
        for (int i = 0; i < n; i++)
            foreach (var (x, y) in new[] { (i, 0), (i, n - 1), (0, i), (n - 1, i) })
            {
                var p = image[x, y];
                r.Add(p.R);
                g.Add(p.G);
                b.Add(p.B);
            }
        // The median ignores objects that touch the border and, unlike the most common exact value,
        // survives noise.
        var median = new ColorF(Median(r), Median(g), Median(b));
        return Palette.Backgrounds.MinBy(bgName => Palette.Of(bgName).DistanceTo(median));
    }

    static float Median(List<float> values)
    {
        values.Sort();
        return values[values.Count / 2];
    }

    // Labels the 8-connected components 1..K (0 = background) of the pixels of an n×n image that pass `foreground`, by flood fill.
    static int[] LabelComponents(int n, Func<int, bool> foreground, out List<List<int>> components)
    {
        var labels = new int[n * n];
        components = [];
        var stack = new Stack<int>();
        for (int start = 0; start < n * n; start++)
        {
            if (labels[start] != 0 || !foreground(start))
                continue;
            var pixels = new List<int>();
            int label = components.Count + 1;
            labels[start] = label;
            stack.Push(start);
            while (stack.Count > 0)
            {
                int i = stack.Pop();
                pixels.Add(i);
                foreach (int j in Neighbourhood(i, n))
                    if (labels[j] == 0 && foreground(j))
                    {
                        labels[j] = label;
                        stack.Push(j);
                    }
            }
            components.Add(pixels);
        }
        return labels;
    }

    static bool IsForeground(SceneImage image, int i, int n, ColorF bg) =>
        image[i % n, i / n].DistanceTo(bg) > ForegroundThreshold;

    static DetectedObject? DetectObject(SceneImage image, Background background, int[] labels, int label, List<int> pixels)
    {
        int n = image.Size;
        var bg = Palette.Of(background);
        var color = DetectColor(image, bg, background, pixels);
        var alpha = Coverage(image, bg, Palette.Of(color), labels, label, pixels);

        double mass = 0, mx = 0, my = 0;
        for (int i = 0; i < alpha.Length; i++)
        {
            mass += alpha[i];
            mx += alpha[i] * (i % n + 0.5);
            my += alpha[i] * (i / n + 0.5);
        }
        if (mass < MinCoverage)
            return null;
        mx /= mass * n;
        my /= mass * n;

        // Every template, even blurred, lies within 1.5 long half-axes of the centroid (the triangle's
        // centroid is a third of a half-axis off its box centre), so errors are summed over that
        // window and the observed coverage's own box; α is zero everywhere else.
        int reach = (int)Math.Ceiling(1.5 * WorldGeometry.HalfExtent(Size.Large) * n) + 2;
        var window = new Window(
            Math.Max(0, Math.Min((int)(mx * n) - reach, pixels.Min(i => i % n) - 1)),
            Math.Max(0, Math.Min((int)(my * n) - reach, pixels.Min(i => i / n) - 1)),
            Math.Min(n - 1, Math.Max((int)(mx * n) + reach, pixels.Max(i => i % n) + 1)),
            Math.Min(n - 1, Math.Max((int)(my * n) + reach, pixels.Max(i => i / n) + 1)));
        var template = new float[n * n];
        var blurred = new float[n * n];
        (Shape Shape, Size Size, Pose Pose, double Cx, double Cy, double Error) best = default;
        best.Error = double.PositiveInfinity;
        foreach (var shape in Enum.GetValues<Shape>())
        {
            var (ou, ov) = ShapeCentroids.Offset(shape);
            foreach (var size in Enum.GetValues<Size>())
                foreach (var pose in Enum.GetValues<Pose>())
                {
                    var (hx, hy) = WorldGeometry.HalfExtents(size, pose);
                    double cx = mx - ou * hx, cy = my - ov * hy;
                    Array.Clear(template);
                    SceneRenderer.Rasterize(shape, cx, cy, hx, hy, n, TemplateSupersample, template);
                    BlurBinomial(template, n, window, blurred);
                    double error = Math.Min(SquaredDistance(alpha, template, n, window), SquaredDistance(alpha, blurred, n, window));
                    if (error < best.Error)
                        best = (shape, size, pose, cx, cy, error);
                }
        }
        var (bhx, bhy) = WorldGeometry.HalfExtents(best.Size, best.Pose);
        double boxPixels = Math.Max(1, 4 * bhx * bhy * n * n);
        return new DetectedObject(best.Shape, color, best.Size, WorldGeometry.PositionAt(best.Cx, best.Cy), best.Pose,
            pixels.Count, best.Cx, best.Cy, best.Error / boxPixels);
    }

    // An inclusive pixel rectangle.
    readonly record struct Window(int X0, int Y0, int X1, int Y1);

    static double SquaredDistance(float[] a, float[] b, int n, Window w)
    {
        double sum = 0;
        for (int y = w.Y0; y <= w.Y1; y++)
            for (int x = w.X0; x <= w.X1; x++)
            {
                double d = a[y * n + x] - b[y * n + x];
                sum += d * d;
            }
        return sum;
    }

    // Blurs with the 3×3 binomial kernel [1 2 1]ᵀ[1 2 1]/16 (σ ≈ 0.7 px), zero outside the image.
    // Generated images are softer than the renderer's box-filtered edges; comparing against a sharp
    // and a soft version of each template lets fine detail (star points, square corners) still decide.
    static void BlurBinomial(float[] src, int n, Window w, float[] dst)
    {
        for (int y = w.Y0; y <= w.Y1; y++)
            for (int x = w.X0; x <= w.X1; x++)
            {
                float sum = 0;
                for (int dy = -1; dy <= 1; dy++)
                {
                    int yy = y + dy;
                    if (yy < 0 || yy >= n)
                        continue;
                    for (int dx = -1; dx <= 1; dx++)
                    {
                        int xx = x + dx;
                        if (xx >= 0 && xx < n)
                            sum += (2 - Math.Abs(dx)) * (2 - Math.Abs(dy)) * src[yy * n + xx];
                    }
                }
                dst[y * n + x] = sum / 16;
            }
    }

    static NamedColor DetectColor(SceneImage image, ColorF bg, Background background, List<int> pixels)
    {
        int n = image.Size;
        float maxDistance = pixels.Max(i => image[i % n, i / n].DistanceTo(bg));
        float r = 0, g = 0, b = 0;
        int count = 0;
        foreach (int i in pixels)
        {
            var p = image[i % n, i / n];
            if (p.DistanceTo(bg) < CoreFraction * maxDistance)
                continue;
            r += p.R;
            g += p.G;
            b += p.B;
            count++;
        }
        var mean = new ColorF(r / count, g / count, b / count);
        return Palette.ColorsOn(background).MinBy(c =>
        {
            var target = Palette.Of(c);
            float a = Unmix(mean, bg, target);
            return mean.DistanceTo(bg.Lerp(target, a)) + PurityPenalty * (1 - a) * target.DistanceTo(bg);
        });
    }

    // The α in [0, 1] for which bg + α(c − bg) is closest to p.
    static float Unmix(ColorF p, ColorF bg, ColorF c)
    {
        float dr = c.R - bg.R, dg = c.G - bg.G, db = c.B - bg.B;
        float t = ((p.R - bg.R) * dr + (p.G - bg.G) * dg + (p.B - bg.B) * db) / (dr * dr + dg * dg + db * db);
        return Math.Clamp(t, 0f, 1f);
    }

    // α of the component's pixels and of their one-pixel halo (faint edge pixels below the
    // foreground threshold), zero elsewhere and on other components.
    static float[] Coverage(SceneImage image, ColorF bg, ColorF color, int[] labels, int label, List<int> pixels)
    {
        int n = image.Size;
        var alpha = new float[n * n];
        foreach (int i in pixels)
            foreach (int j in Neighbourhood(i, n))
                if (labels[j] == label || labels[j] == 0)
                    alpha[j] = Unmix(image[j % n, j / n], bg, color);
        return alpha;
    }

    /// <summary>Pixel <paramref name="i"/> of an n×n image and its 8-connected neighbours inside the image.</summary>
    static IEnumerable<int> Neighbourhood(int i, int n)
    {
        int x = i % n, y = i / n;
        for (int yy = Math.Max(0, y - 1); yy <= Math.Min(n - 1, y + 1); yy++)
            for (int xx = Math.Max(0, x - 1); xx <= Math.Min(n - 1, x + 1); xx++)
                yield return yy * n + xx;
    }

    // Offset of each shape's area centroid from its bounding-box centre, in units of the half-extents.
    // Shapes scale per axis, so one pair per shape holds for every size and pose. The ring is
    // symmetric; the rest are measured once on a fine grid.
    static class ShapeCentroids
    {
        static readonly (double U, double V)[] Offsets = Enum.GetValues<Shape>().Select(Measure).ToArray();

        public static (double U, double V) Offset(Shape shape) => Offsets[(int)shape];

        static (double U, double V) Measure(Shape shape)
        {
            if (shape == Shape.Ring)
                return (0, 0);
            const int steps = 400;
            double count = 0, su = 0, sv = 0;
            for (int j = 0; j < steps; j++)
                for (int i = 0; i < steps; i++)
                {
                    double u = -1 + (i + 0.5) * 2 / steps, v = -1 + (j + 0.5) * 2 / steps;
                    if (!WorldGeometry.Contains(shape, u, v, 1, 1))
                        continue;
                    count++;
                    su += u;
                    sv += v;
                }
            return (su / count, sv / count);
        }
    }
}
