namespace Imagic.World;

/// <summary>
/// Which version of the shapes world: <see cref="V1"/> flat scenes where every attribute has a name
/// (the 32-pixel world of models v1–v5 and suite shapes-v1), or <see cref="V2"/> scenes with unnamed
/// detail (<see cref="ObjectDetail"/>, <see cref="SceneDetail"/>) rendered at 64 pixels.
/// </summary>
public enum WorldVersion { V1, V2 }

/// <summary>
/// What a world-v2 object shows that no caption names: where exactly it sits in its grid cell, how big it
/// is within its size class, its rotation and its shade. Edits copy it unchanged (a <c>with</c> on the
/// named fields keeps it), so an edited object keeps every unnamed detail bit for bit.
/// </summary>
/// <param name="OffsetX">Horizontal offset of the centre from the cell centre, canvas units, in ±<see cref="MaxOffset"/>.
/// Clamped at render time so that the object stays inside the canvas (see <see cref="WorldGeometry.Place"/>).</param>
/// <param name="OffsetY">Vertical offset, the same way.</param>
/// <param name="Scale">Factor on the size class's half-extents, in 1 ± <see cref="MaxScaleJitter"/>.</param>
/// <param name="Rotation">Rotation in degrees (clockwise on screen), in ±<see cref="MaxRotation"/>. Drawn for every object;
/// it shows on every shape but a regular circle or ring, and a shape edit keeps it.</param>
/// <param name="ShadeR">Offset of the red channel from the palette colour, in ±<see cref="MaxShade"/> (the result is clamped to [0, 1]).</param>
/// <param name="ShadeG">The same for green.</param>
/// <param name="ShadeB">The same for blue.</param>
public sealed record ObjectDetail(double OffsetX, double OffsetY, double Scale, double Rotation,
    float ShadeR, float ShadeG, float ShadeB)
{
    /// <summary>Largest centre offset: 0.03 of the canvas (1.9 px at 64×64), far inside the cell (half-width 1/6).</summary>
    public const double MaxOffset = 0.03;

    /// <summary>Largest relative size change: 0.07, a quarter of the smallest step between size classes (×1.29).</summary>
    public const double MaxScaleJitter = 0.07;

    /// <summary>Largest rotation: 12°, so that "tall", "wide" and an apex-up triangle still mean what they say.</summary>
    public const double MaxRotation = 12;

    /// <summary>Largest shade offset per channel: 0.05, well inside the palette's 0.25 separation.</summary>
    public const float MaxShade = 0.05f;

    /// <summary>The detail of a v1 object: centred, nominal size, upright, the palette colour.</summary>
    public static ObjectDetail None { get; } = new(0, 0, 1, 0, 0, 0, 0);

    /// <summary>Draws a detail uniformly within the bounds above.</summary>
    public static ObjectDetail Draw(WorldRandom rng) => new(
        Uniform(rng, MaxOffset), Uniform(rng, MaxOffset), 1 + Uniform(rng, MaxScaleJitter), Uniform(rng, MaxRotation),
        (float)Uniform(rng, MaxShade), (float)Uniform(rng, MaxShade), (float)Uniform(rng, MaxShade));

    /// <summary>The object's colour: the palette colour plus the shade, clamped to [0, 1].</summary>
    public ColorF Shade(NamedColor color)
    {
        var c = Palette.Of(color);
        return new ColorF(Math.Clamp(c.R + ShadeR, 0f, 1f), Math.Clamp(c.G + ShadeG, 0f, 1f), Math.Clamp(c.B + ShadeB, 0f, 1f));
    }

    internal static double Uniform(WorldRandom rng, double max) => (2 * rng.NextDouble() - 1) * max;
}

/// <summary>
/// A small object that no caption ever mentions: a shape about a fifth of a Small object's width.
/// The v2 detector ignores it (<see cref="SceneDetector.MaxClutterCoverage"/>), so it is never counted as an object.
/// </summary>
/// <param name="X">Centre, canvas units.</param>
/// <param name="Y">Centre, canvas units.</param>
/// <param name="HalfExtent">Half-extent, canvas units, in [<see cref="MinHalfExtent"/>, <see cref="MaxHalfExtent"/>].</param>
public sealed record Clutter(Shape Shape, NamedColor Color, double X, double Y, double HalfExtent)
{
    /// <summary>Smallest half-extent: 0.016 (1 px at 64×64).</summary>
    public const double MinHalfExtent = 0.016;

    /// <summary>Largest half-extent: 0.024 (1.5 px at 64×64); a square of it covers 0.23 % of the canvas.</summary>
    public const double MaxHalfExtent = 0.024;

    /// <summary>Its bounding box on the unit canvas.</summary>
    public (double Left, double Top, double Right, double Bottom) Bounds => (X - HalfExtent, Y - HalfExtent, X + HalfExtent, Y + HalfExtent);
}

/// <summary>
/// What a world-v2 scene shows beyond its objects that no caption names: a background that is not flat,
/// and optionally a clutter object. Background edits change the named colour only; the gradient and the
/// texture around it stay.
/// </summary>
/// <param name="GradientAngle">Direction of the linear gradient, radians.</param>
/// <param name="GradientAmplitude">Change of every channel from the centre to the canvas edge along the gradient, in ±<see cref="MaxGradient"/>.</param>
/// <param name="TextureSeed">Fixes the directions, frequencies and phases of the texture's waves.</param>
/// <param name="TextureAmplitude">Amplitude of the soft texture, in [<see cref="MaxTexture"/>/2, <see cref="MaxTexture"/>].</param>
/// <param name="Clutter">The unnamed small object, or null.</param>
public sealed record SceneDetail(double GradientAngle, double GradientAmplitude, long TextureSeed, double TextureAmplitude,
    Clutter? Clutter)
{
    /// <summary>Largest gradient amplitude: 0.08 per channel at the canvas edge.</summary>
    public const double MaxGradient = 0.08;

    /// <summary>Largest texture amplitude: 0.06 (the sum of <see cref="TextureWaves"/> waves, normalised to this peak).</summary>
    public const double MaxTexture = 0.06;

    /// <summary>Waves in the texture: 3.</summary>
    public const int TextureWaves = 3;

    /// <summary>Chance that a scene has a clutter object: 0.5.</summary>
    public const double ClutterProbability = 0.5;

    /// <summary>The background colour of pixel centre (x, y) of the unit canvas: the named colour, the gradient and the texture, clamped to [0, 1].</summary>
    public ColorF BackgroundAt(Background background, double x, double y, Wave[] waves)
    {
        double dx = x - 0.5, dy = y - 0.5;
        double g = GradientAmplitude * 2 * (dx * Math.Cos(GradientAngle) + dy * Math.Sin(GradientAngle));
        double t = 0;
        foreach (var w in waves)
            t += Math.Sin(2 * Math.PI * (w.Fx * x + w.Fy * y) + w.Phase);
        float v = (float)(g + TextureAmplitude * t / waves.Length);
        var c = Palette.Of(background);
        return new ColorF(Math.Clamp(c.R + v, 0f, 1f), Math.Clamp(c.G + v, 0f, 1f), Math.Clamp(c.B + v, 0f, 1f));
    }

    /// <summary>One plane wave of the texture: frequency in cycles per canvas along x and y, and a phase.</summary>
    public readonly record struct Wave(double Fx, double Fy, double Phase);

    /// <summary>The texture's waves, fixed by <see cref="TextureSeed"/>: 2–5 cycles per canvas, any direction.</summary>
    public Wave[] Waves()
    {
        var rng = new WorldRandom(TextureSeed);
        var waves = new Wave[TextureWaves];
        for (int k = 0; k < waves.Length; k++)
        {
            double frequency = 2 + 3 * rng.NextDouble(), angle = 2 * Math.PI * rng.NextDouble();
            waves[k] = new Wave(frequency * Math.Cos(angle), frequency * Math.Sin(angle), 2 * Math.PI * rng.NextDouble());
        }
        return waves;
    }

    /// <summary>Draws a background detail (no clutter; <see cref="SceneSampler"/> places that).</summary>
    public static SceneDetail Draw(WorldRandom rng) => new(
        2 * Math.PI * rng.NextDouble(), ObjectDetail.Uniform(rng, MaxGradient), (long)(rng.NextUInt64() >> 1),
        MaxTexture * (0.5 + 0.5 * rng.NextDouble()), null);
}
