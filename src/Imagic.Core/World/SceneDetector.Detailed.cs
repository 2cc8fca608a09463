namespace Imagic.World;

/// <summary>The world-v2 reading of <see cref="SceneDetector"/>: textured backgrounds, shaded, jittered and rotated objects, clutter.</summary>
/// <remarks>
/// <para>The v1 steps, changed where v2's unnamed detail needs it:</para>
/// <list type="number">
/// <item>Background: the named colour as in v1; then, per channel, a plane a + bx + cy fitted by least squares to
/// the pixels near that colour (twice, the second time to those near the first plane). The plane takes the
/// gradient; the texture's ±0.06 is what is left.</item>
/// <item>Foreground and colour as in v1, against the plane at each pixel. The object's shade is the mean of its
/// core pixels minus the palette colour, when those pixels are fully covered.</item>
/// <item>Components whose coverage is below <see cref="MaxClutterCoverage"/> of the canvas are clutter and are dropped.</item>
/// <item>Shape, pose and rotation: every shape × pose × rotation (−12° to 12° in steps of 6°; upright only for a
/// regular circle or ring) is rendered at the scale whose area equals the observed coverage, on the observed
/// centroid, and compared sharp and blurred; the least error wins. Size is the class nearest (in log) to the
/// fitted long half-extent, so the size jitter of ±7 % never crosses a class.</item>
/// </list>
/// </remarks>
public static partial class SceneDetector
{
    /// <summary>
    /// Components covering less than this fraction of the canvas are clutter, not objects: 0.0038. The largest
    /// clutter (a square of half-extent <see cref="Clutter.MaxHalfExtent"/>) covers 0.0023, the smallest object (a
    /// small tall star at the lowest size jitter) 0.0064; this is their geometric mean. World v2 only.
    /// </summary>
    public const double MaxClutterCoverage = 0.0038;

    /// <summary>The rotations, in degrees, that world-v2 templates are tried at.</summary>
    static readonly double[] TemplateRotations = [-12, -6, 0, 6, 12];

    /// <summary>Detects the scene in <paramref name="image"/>, read as a scene of world <paramref name="version"/>.</summary>
    public static Detection Detect(SceneImage image, WorldVersion version) =>
        version == WorldVersion.V1 ? Detect(image) : DetectDetailed(image);

    static Detection DetectDetailed(SceneImage image)
    {
        int n = image.Size;
        var background = DetectBackground(image);
        var local = FitBackgroundPlane(image, Palette.Of(background));

        var labels = LabelComponents(n, i => image[i % n, i / n].DistanceTo(local[i]) > ForegroundThreshold, out var components);

        var objects = new List<DetectedObject>();
        for (int k = 0; k < components.Count; k++)
            if (components[k].Count >= MinArea && DetectDetailedObject(image, background, local, labels, k + 1, components[k]) is { } obj)
                objects.Add(obj);
        objects.Sort((a, b) => b.Area.CompareTo(a.Area));
        return new Detection(background, objects);
    }

    // Per channel, the least-squares plane through the pixels within `near` of the reference (the named colour,
    // then the first plane). Objects are at least 0.4 from the named colour, so they never take part.
    static ColorF[] FitBackgroundPlane(SceneImage image, ColorF named)
    {
        int n = image.Size;
        var plane = new ColorF[n * n];
        Array.Fill(plane, named);
        foreach (float near in new[] { 0.3f, 0.15f })
        {
            // Normal equations of [1, x, y]·(a, b, c) = value, one right-hand side per channel.
            var m = new double[3, 3];
            var rhs = new double[3, 3];
            for (int i = 0; i < n * n; i++)
            {
                var p = image[i % n, i / n];
                if (p.DistanceTo(plane[i]) > near)
                    continue;
                double[] f = [1, (i % n + 0.5) / n - 0.5, (i / n + 0.5) / n - 0.5];
                float[] v = [p.R, p.G, p.B];
                for (int r = 0; r < 3; r++)
                {
                    for (int c = 0; c < 3; c++)
                        m[r, c] += f[r] * f[c];
                    for (int ch = 0; ch < 3; ch++)
                        rhs[ch, r] += f[r] * v[ch];
                }
            }
            if (m[0, 0] < 10)
                break; // hardly any background: keep the previous estimate
            var coefficients = new double[3][];
            for (int ch = 0; ch < 3; ch++)
                coefficients[ch] = Solve3(m, [rhs[ch, 0], rhs[ch, 1], rhs[ch, 2]]);
            for (int i = 0; i < n * n; i++)
            {
                double x = (i % n + 0.5) / n - 0.5, y = (i / n + 0.5) / n - 0.5;
                float At(int ch) => (float)(coefficients[ch][0] + coefficients[ch][1] * x + coefficients[ch][2] * y);
                plane[i] = new ColorF(At(0), At(1), At(2));
            }
        }
        return plane;
    }

    // Cramer's rule; the matrix is a sum of outer products of [1, x, y] over a spread of pixels, so well conditioned.
    static double[] Solve3(double[,] m, double[] b)
    {
        double Det(double[,] a) =>
            a[0, 0] * (a[1, 1] * a[2, 2] - a[1, 2] * a[2, 1]) - a[0, 1] * (a[1, 0] * a[2, 2] - a[1, 2] * a[2, 0])
            + a[0, 2] * (a[1, 0] * a[2, 1] - a[1, 1] * a[2, 0]);
        double det = Det(m);
        var x = new double[3];
        for (int k = 0; k < 3; k++)
        {
            var a = (double[,])m.Clone();
            for (int r = 0; r < 3; r++)
                a[r, k] = b[r];
            x[k] = Det(a) / det;
        }
        return x;
    }

    static DetectedObject? DetectDetailedObject(SceneImage image, Background background, ColorF[] local, int[] labels, int label,
        List<int> pixels)
    {
        int n = image.Size;

        // Colour: as v1, against the mean local background of the core pixels; the shade is read where they are fully covered.
        float maxDistance = pixels.Max(i => image[i % n, i / n].DistanceTo(local[i]));
        double r = 0, g = 0, b = 0, br = 0, bg = 0, bb = 0;
        int count = 0;
        foreach (int i in pixels)
        {
            var p = image[i % n, i / n];
            if (p.DistanceTo(local[i]) < CoreFraction * maxDistance)
                continue;
            (r, g, b) = (r + p.R, g + p.G, b + p.B);
            (br, bg, bb) = (br + local[i].R, bg + local[i].G, bb + local[i].B);
            count++;
        }
        var mean = new ColorF((float)(r / count), (float)(g / count), (float)(b / count));
        var coreBackground = new ColorF((float)(br / count), (float)(bg / count), (float)(bb / count));
        var color = Palette.ColorsOn(background).MinBy(c =>
        {
            var target = Palette.Of(c);
            float a = Unmix(mean, coreBackground, target);
            return mean.DistanceTo(coreBackground.Lerp(target, a)) + PurityPenalty * (1 - a) * target.DistanceTo(coreBackground);
        });
        var palette = Palette.Of(color);
        bool covered = Unmix(mean, coreBackground, palette) > 0.95f;
        var shaded = covered ? mean : palette;
        var shade = new ColorF(shaded.R - palette.R, shaded.G - palette.G, shaded.B - palette.B);

        // Coverage against the shaded colour and the local background.
        var alpha = new float[n * n];
        foreach (int i in pixels)
            foreach (int j in Neighbourhood(i, n))
                if (labels[j] == label || labels[j] == 0)
                    alpha[j] = Unmix(image[j % n, j / n], local[j], shaded);
        double mass = 0, mx = 0, my = 0;
        for (int i = 0; i < alpha.Length; i++)
        {
            mass += alpha[i];
            mx += alpha[i] * (i % n + 0.5);
            my += alpha[i] * (i / n + 0.5);
        }
        if (mass < MinCoverage || mass / (n * n) < MaxClutterCoverage)
            return null;
        mx /= mass * n;
        my /= mass * n;

        double largest = WorldGeometry.HalfExtent(Size.Large) * (1 + ObjectDetail.MaxScaleJitter) * 1.25;
        int reach = (int)Math.Ceiling(1.5 * largest * n) + 2;
        var window = new Window(
            Math.Max(0, Math.Min((int)(mx * n) - reach, pixels.Min(i => i % n) - 1)),
            Math.Max(0, Math.Min((int)(my * n) - reach, pixels.Min(i => i / n) - 1)),
            Math.Min(n - 1, Math.Max((int)(mx * n) + reach, pixels.Max(i => i % n) + 1)),
            Math.Min(n - 1, Math.Max((int)(my * n) + reach, pixels.Max(i => i / n) + 1)));
        int supersample = n >= 64 ? 2 : TemplateSupersample;
        var template = new float[n * n];
        var blurred = new float[n * n];
        (Shape Shape, Pose Pose, double Rotation, double Hx, double Hy, double Cx, double Cy, double Error) best = default;
        best.Error = double.PositiveInfinity;
        double area = mass / ((double)n * n);
        foreach (var shape in Enum.GetValues<Shape>())
        {
            var (ou, ov) = ShapeCentroids.Offset(shape);
            foreach (var pose in Enum.GetValues<Pose>())
            {
                var (hx0, hy0) = WorldGeometry.HalfExtents(Size.Medium, pose);
                double k = Math.Sqrt(area / (ShapeAreas.Fraction(shape, pose) * 4 * hx0 * hy0));
                double hx = hx0 * k, hy = hy0 * k;
                bool round = pose == Pose.Regular && shape is Shape.Circle or Shape.Ring;
                foreach (double degrees in round ? [0.0] : TemplateRotations)
                {
                    double angle = degrees * Math.PI / 180, cos = Math.Cos(angle), sin = Math.Sin(angle);
                    double u = ou * hx, v = ov * hy;
                    double cx = mx - (cos * u - sin * v), cy = my - (sin * u + cos * v);
                    Array.Clear(template);
                    SceneRenderer.Rasterize(shape, cx, cy, hx, hy, angle, n, supersample, template);
                    BlurBinomial(template, n, window, blurred);
                    double error = Math.Min(SquaredDistance(alpha, template, n, window), SquaredDistance(alpha, blurred, n, window));
                    if (error < best.Error)
                        best = (shape, pose, degrees, hx, hy, cx, cy, error);
                }
            }
        }
        double halfExtent = Math.Max(best.Hx, best.Hy);
        var size = Enum.GetValues<Size>().MinBy(s => Math.Abs(Math.Log(halfExtent / WorldGeometry.HalfExtent(s))));
        double boxPixels = Math.Max(1, 4 * best.Hx * best.Hy * n * n);
        return new DetectedObject(best.Shape, color, size, WorldGeometry.PositionAt(best.Cx, best.Cy), best.Pose,
            pixels.Count, best.Cx, best.Cy, best.Error / boxPixels)
        {
            HalfExtent = halfExtent,
            Rotation = best.Rotation,
            Shade = shade,
        };
    }

    // Each shape's area as a fraction of its bounding box, per pose (the ring's stroke follows the narrow
    // axis, so its fraction depends on the pose); measured once on a fine grid.
    static class ShapeAreas
    {
        static readonly double[,] Fractions = Measure();

        public static double Fraction(Shape shape, Pose pose) => Fractions[(int)shape, (int)pose];

        static double[,] Measure()
        {
            var shapes = Enum.GetValues<Shape>();
            var poses = Enum.GetValues<Pose>();
            var fractions = new double[shapes.Length, poses.Length];
            const int steps = 400;
            foreach (var shape in shapes)
                foreach (var pose in poses)
                {
                    var (hx, hy) = WorldGeometry.HalfExtents(Size.Medium, pose);
                    int inside = 0;
                    for (int j = 0; j < steps; j++)
                        for (int i = 0; i < steps; i++)
                            if (WorldGeometry.Contains(shape, (-1 + (i + 0.5) * 2 / steps) * hx, (-1 + (j + 0.5) * 2 / steps) * hy, hx, hy))
                                inside++;
                    fractions[(int)shape, (int)pose] = inside / (double)(steps * steps);
                }
            return fractions;
        }
    }
}
