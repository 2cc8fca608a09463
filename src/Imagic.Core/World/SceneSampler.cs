namespace Imagic.World;

/// <summary>
/// Draws random valid scenes, the same sequence for the same seed on every machine and .NET version.
/// </summary>
/// <remarks>
/// Every attribute is drawn uniformly and independently; a draw that breaks a rule (an object colour
/// too close to the background, two objects too close) is rejected and redrawn, so scenes are uniform
/// over the valid ones for each object taken alone.
/// </remarks>
public sealed class SceneSampler
{
    /// <summary>Default probability that a scene has a second object: 0.4.</summary>
    public const double DefaultSecondObjectProbability = 0.4;

    readonly WorldRandom _rng;
    readonly WorldRandom _detail;
    readonly double _secondObjectProbability;
    readonly WorldVersion _version;

    /// <param name="seed">Fixes the whole sequence of scenes.</param>
    /// <param name="secondObjectProbability">Chance of a second object; default 0.4.</param>
    /// <param name="version">The world: v1 (default, flat scenes) or v2 (scenes with unnamed detail).</param>
    public SceneSampler(long seed, double secondObjectProbability = DefaultSecondObjectProbability, WorldVersion version = WorldVersion.V1)
    {
        if (secondObjectProbability is < 0 or > 1)
            throw new ArgumentOutOfRangeException(nameof(secondObjectProbability), secondObjectProbability, "must be in [0, 1]");
        _rng = new WorldRandom(seed);
        // Unnamed detail has its own stream, so that it never shifts the named draws of later scenes more than the
        // named rejections themselves do.
        _detail = new WorldRandom(unchecked(seed * 0x5851F42D4C957F2DL + 0x14057B7EF767814FL));
        _secondObjectProbability = secondObjectProbability;
        _version = version;
    }

    /// <summary>The next random scene.</summary>
    public Scene Next()
    {
        if (_version == WorldVersion.V2)
            return NextDetailed();
        var background = _rng.Pick(Palette.Backgrounds);
        var primary = NextObject(background);
        if (!_rng.Chance(_secondObjectProbability))
            return new Scene(background, primary);

        // Rejection terminates fast: at most 8 of the 9 cells are too close to any primary.
        while (true)
        {
            var secondary = NextObject(background);
            if (WorldGeometry.Separated(primary, secondary))
                return new Scene(background, primary, secondary);
        }
    }

    // World v2: the named attributes are drawn as in v1, each object with its unnamed detail; the second
    // object is redrawn until its placed box keeps the gap, and the clutter (half the scenes) until it
    // keeps the gap from both objects (up to 20 tries, then the scene has none).
    Scene NextDetailed()
    {
        var background = _rng.Pick(Palette.Backgrounds);
        var primary = NextObject(background) with { Detail = ObjectDetail.Draw(_detail) };
        var detail = SceneDetail.Draw(_detail);
        SceneObject? secondary = null;
        if (_rng.Chance(_secondObjectProbability))
            do secondary = NextObject(background) with { Detail = ObjectDetail.Draw(_detail) };
            while (!WorldGeometry.Separated(primary, secondary));
        return WithClutter(new Scene(background, primary, secondary, detail));
    }

    /// <summary>
    /// The named content of <paramref name="scene"/> with fresh unnamed detail from this sampler's detail stream
    /// (redrawn until valid): a scene that every caption of <paramref name="scene"/> describes equally well.
    /// </summary>
    public Scene NextDetail(Scene scene)
    {
        while (true)
        {
            var redrawn = new Scene(scene.Background, scene.Primary with { Detail = ObjectDetail.Draw(_detail) },
                scene.Secondary is null ? null : scene.Secondary with { Detail = ObjectDetail.Draw(_detail) },
                SceneDetail.Draw(_detail));
            if (redrawn.IsValid)
                return WithClutter(redrawn);
        }
    }

    Scene WithClutter(Scene scene)
    {
        var (background, detail) = (scene.Background, scene.Detail!);
        if (!_detail.Chance(SceneDetail.ClutterProbability))
            return scene;
        for (int attempt = 0; attempt < 20; attempt++)
        {
            double h = Clutter.MinHalfExtent + (Clutter.MaxHalfExtent - Clutter.MinHalfExtent) * _detail.NextDouble();
            double margin = h + 0.02;
            var clutter = new Clutter(_detail.Pick(Enum.GetValues<Shape>()), _detail.Pick(Palette.ColorsOn(background)),
                margin + (1 - 2 * margin) * _detail.NextDouble(), margin + (1 - 2 * margin) * _detail.NextDouble(), h);
            var cluttered = scene with { Detail = detail with { Clutter = clutter } };
            if (cluttered.IsValid)
                return cluttered;
        }
        return scene;
    }

    /// <summary>The next <paramref name="count"/> scenes.</summary>
    public IReadOnlyList<Scene> Next(int count)
    {
        var scenes = new Scene[count];
        for (int i = 0; i < count; i++)
            scenes[i] = Next();
        return scenes;
    }

    SceneObject NextObject(Background background) => new(
        _rng.Pick(Enum.GetValues<Shape>()),
        _rng.Pick(Palette.ColorsOn(background)),
        _rng.Pick(Enum.GetValues<Size>()),
        _rng.Pick(Enum.GetValues<GridPosition>()),
        _rng.Pick(Enum.GetValues<Pose>()));
}
