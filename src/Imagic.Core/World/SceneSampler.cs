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
    readonly double _secondObjectProbability;

    /// <param name="seed">Fixes the whole sequence of scenes.</param>
    /// <param name="secondObjectProbability">Chance of a second object; default 0.4.</param>
    public SceneSampler(long seed, double secondObjectProbability = DefaultSecondObjectProbability)
    {
        if (secondObjectProbability is < 0 or > 1)
            throw new ArgumentOutOfRangeException(nameof(secondObjectProbability), secondObjectProbability, "must be in [0, 1]");
        _rng = new WorldRandom(seed);
        _secondObjectProbability = secondObjectProbability;
    }

    /// <summary>The next random scene.</summary>
    public Scene Next()
    {
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
