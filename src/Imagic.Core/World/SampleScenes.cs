namespace Imagic.World;

/// <summary>
/// The scenes of the repository's <c>samples/</c> images: for each file, the first scene of a world-v2 sampler with a
/// fixed seed that shows what the file's name says, rendered at 64 pixels. A test checks that the committed files are
/// exactly these renders, and rewrites them when asked to (see <c>samples/README.md</c>).
/// </summary>
public static class SampleScenes
{
    /// <summary>The seed of the sampler the scenes are drawn from.</summary>
    public const long Seed = 2026;

    /// <summary>The pixel size of the sample images: the 64 px of world v2 and bundled model v6.</summary>
    public const int Size = 64;

    /// <summary>Each sample file's name and what its scene must show.</summary>
    static readonly (string File, Func<Scene, bool> Shows)[] Wanted =
    [
        // The README's quickstart edits this one into "a large tall red circle in the center on a grey background"; its
        // clutter object, which no caption names, shows whether an edit keeps what the text leaves out.
        ("red-circle.png", s => Is(s.Primary, Shape.Circle, NamedColor.Red) && s.Primary.Size == World.Size.Medium
            && s.Primary.Position == GridPosition.Center && s.Primary.Pose == Pose.Regular && s.Background == Background.Grey
            && s.Secondary is null && s.Detail?.Clutter is not null),
        ("blue-square.png", s => Is(s.Primary, Shape.Square, NamedColor.Blue) && s.Secondary is null),
        ("yellow-star.png", s => Is(s.Primary, Shape.Star, NamedColor.Yellow) && s.Secondary is null),
        ("green-triangle-and-ring.png", s => Is(s.Primary, Shape.Triangle, NamedColor.Green) && s.Secondary?.Shape == Shape.Ring),
    ];

    static bool Is(SceneObject o, Shape shape, NamedColor color) => o.Shape == shape && o.Color == color;

    /// <summary>Every sample file's name with its scene, in a fixed order.</summary>
    public static IReadOnlyList<(string File, Scene Scene)> All()
    {
        var sampler = new SceneSampler(Seed, version: WorldVersion.V2);
        var found = new Scene?[Wanted.Length];
        for (int drawn = 0; found.Any(s => s is null); drawn++)
        {
            if (drawn == 200_000) throw new InvalidOperationException("The sample scenes were not all found in 200000 scenes.");
            var scene = sampler.Next();
            for (int i = 0; i < Wanted.Length; i++)
                if (found[i] is null && Wanted[i].Shows(scene)) found[i] = scene;
        }
        return Wanted.Select((w, i) => (w.File, found[i]!)).ToList();
    }
}
