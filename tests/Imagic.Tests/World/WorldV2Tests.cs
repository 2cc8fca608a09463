using Imagic.Quality;
using Imagic.World;
using Xunit.Abstractions;

namespace Imagic.Tests.World;

/// <remarks>
/// The figures (caption-vs-detail SSIM, detector accuracy) are written to the test output:
/// <c>dotnet test -c Release --filter "FullyQualifiedName~WorldV2Tests" --logger "console;verbosity=detailed"</c>.
/// </remarks>
public class WorldV2Tests(ITestOutputHelper output)
{
    const int Size = 64;

    static SceneSampler Sampler(long seed, double secondObjectProbability = SceneSampler.DefaultSecondObjectProbability) =>
        new(seed, secondObjectProbability, WorldVersion.V2);

    [Fact]
    public void Sampler_SameSeed_GivesTheSameScenesAndTheSameBits()
    {
        var a = Sampler(7).Next(20);
        var b = Sampler(7).Next(20);

        Assert.Equal(a, b);
        for (int i = 0; i < a.Count; i++)
            Assert.Equal(SceneRenderer.Render(a[i], Size).Chw, SceneRenderer.Render(b[i], Size).Chw);
    }

    [Fact]
    public void Sampler_V2_DrawsValidScenesWithDetailOnEveryObject()
    {
        var scenes = Sampler(8).Next(300);

        Assert.All(scenes, s => Assert.Empty(s.Problems()));
        Assert.All(scenes, s => Assert.Equal(WorldVersion.V2, s.Version));
        Assert.All(scenes.SelectMany(s => s.Objects), o => Assert.NotNull(o.Detail));
        Assert.InRange(scenes.Count(s => s.Detail!.Clutter is not null), 100, 200);
    }

    [Fact]
    public void Sampler_V1_IsUnchangedByTheV2Option()
    {
        var v1 = new SceneSampler(9).Next(50);

        Assert.Equal(v1, new SceneSampler(9, version: WorldVersion.V1).Next(50));
        Assert.All(v1, s => Assert.Null(s.Detail));
    }

    /// <summary>
    /// The world's design target: two renders that share every caption but differ in unnamed detail differ
    /// visibly, mean SSIM ≤ 0.8 (issue 17).
    /// </summary>
    [Fact]
    public void SameCaption_DifferentDetail_DifferVisibly()
    {
        var sampler = Sampler(10);
        var redraw = Sampler(11);
        var scenes = sampler.Next(200);

        double mean = scenes.Average(s =>
            EditMetrics.Ssim(SceneRenderer.Render(s, Size), SceneRenderer.Render(redraw.NextDetail(s), Size)));

        output.WriteLine($"Mean SSIM of 200 same-caption pairs at {Size}×{Size}: {mean:0.000}");
        Assert.True(mean <= 0.8, $"mean SSIM {mean:0.000}");
    }

    [Fact]
    public void Detect_CleanV2Renders_ReadsEveryNamedAttribute()
    {
        var accuracy = Accuracy(Sampler(12).Next(150), sigma: 0);

        Assert.All(accuracy, a => Assert.True(a.Value == 1, $"{a.Key}: {a.Value:P1}"));
    }

    [Fact]
    public void Detect_MildlyNoisyV2Renders_ReadsAtLeast98Percent()
    {
        var accuracy = Accuracy(Sampler(13).Next(150), sigma: 0.03);

        Assert.All(accuracy, a => Assert.True(a.Value >= 0.98, $"{a.Key}: {a.Value:P1}"));
    }

    // Per named attribute: the primary's five, the background, the second object (all five right) and the
    // object count (clutter is not an object).
    Dictionary<string, double> Accuracy(IReadOnlyList<Scene> scenes, double sigma)
    {
        var noise = new WorldRandom(998);
        var correct = new Dictionary<string, int>();
        void Count(string key, bool right) => correct[key] = correct.GetValueOrDefault(key) + (right ? 1 : 0);
        foreach (var scene in scenes)
        {
            var image = SceneRenderer.Render(scene, Size);
            if (sigma > 0)
                for (int i = 0; i < image.Chw.Length; i++)
                    image.Chw[i] = Math.Clamp(image.Chw[i] + (float)(sigma * noise.NextGaussian()), 0f, 1f);
            var match = DetectionMatch.Compare(scene, SceneDetector.Detect(image, WorldVersion.V2));
            foreach (var attribute in Enum.GetValues<SceneAttribute>())
                Count(attribute.ToString(), match[attribute]);
            Count("second object", match.Secondary?.All ?? true);
            Count("object count", match.ObjectCount);
        }
        var accuracy = correct.ToDictionary(kv => kv.Key, kv => kv.Value / (double)scenes.Count);
        output.WriteLine($"σ = {sigma}, {scenes.Count} scenes: " + string.Join(", ", accuracy.Select(a => $"{a.Key} {a.Value:P1}")));
        return accuracy;
    }
}

public class WorldV2EditTests
{
    const int Size = 64;

    /// <summary>
    /// Every valid single edit of every attribute, on 40 v2 scenes: the edited scene differs from the source in that
    /// attribute only, every unnamed detail is the same record, and the pixels it should not touch are bit-exact
    /// (outside the primary's masks for an object edit; inside the objects for a background edit).
    /// </summary>
    [Fact]
    public void EverySingleEdit_ChangesOnlyItsAttribute_AndKeepsEveryUnnamedDetailBitExact()
    {
        int edits = 0;
        foreach (var scene in new SceneSampler(14, 0.6, WorldVersion.V2).Next(40))
        {
            var source = SceneRenderer.Render(scene, Size);
            foreach (var attribute in Enum.GetValues<SceneAttribute>())
                foreach (var edit in EditSampler.ValidEdits(scene, attribute))
                {
                    var target = scene.Apply(edit);
                    var truth = SceneRenderer.Render(target, Size);

                    Assert.Equal(scene.Detail, target.Detail);
                    Assert.Equal(scene.Secondary, target.Secondary);
                    Assert.Equal(scene.Primary.Detail, target.Primary.Detail);
                    Assert.Equal(ChangedAttributes(scene, target), [attribute]);
                    var keep = attribute == SceneAttribute.Background
                        ? scene.Objects.Select(o => SceneRenderer.Coverage(o, Size)).Aggregate(Union).Select(a => a == 1).ToArray()
                        : Union(SceneRenderer.Coverage(scene.Primary, Size), SceneRenderer.Coverage(target.Primary, Size)).Select(a => a == 0).ToArray();
                    Assert.Contains(true, keep);
                    for (int i = 0; i < keep.Length; i++)
                        if (keep[i])
                            for (int c = 0; c < 3; c++)
                                Assert.Equal(source.Chw[c * Size * Size + i], truth.Chw[c * Size * Size + i]);
                    edits++;
                }
        }
        Assert.True(edits > 700, $"only {edits} edits");
    }

    static float[] Union(float[] a, float[] b) => a.Zip(b, Math.Max).ToArray();

    static SceneAttribute[] ChangedAttributes(Scene a, Scene b)
    {
        var changed = new List<SceneAttribute>();
        if (a.Background != b.Background) changed.Add(SceneAttribute.Background);
        if (a.Primary.Color != b.Primary.Color) changed.Add(SceneAttribute.Color);
        if (a.Primary.Shape != b.Primary.Shape) changed.Add(SceneAttribute.Shape);
        if (a.Primary.Size != b.Primary.Size) changed.Add(SceneAttribute.Size);
        if (a.Primary.Position != b.Primary.Position) changed.Add(SceneAttribute.Position);
        if (a.Primary.Pose != b.Primary.Pose) changed.Add(SceneAttribute.Pose);
        return changed.ToArray();
    }
}
