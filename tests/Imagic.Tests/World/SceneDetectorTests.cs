using Imagic.World;
using Xunit.Abstractions;

namespace Imagic.Tests.World;

/// <remarks>
/// Accuracy figures are written to the test output:
/// <c>dotnet test --filter "FullyQualifiedName~SceneDetectorTests" --logger "console;verbosity=detailed"</c>.
/// </remarks>
public class SceneDetectorTests(ITestOutputHelper output)
{
    const int SceneCount = 300;

    [Fact]
    public void Detect_CleanRenders_RecoversEveryAttribute()
    {
        var accuracy = Accuracy(new SceneSampler(101).Next(SceneCount), Distortion.None);

        Assert.All(accuracy, a => Assert.True(a.Value >= 0.98, $"{a.Key}: {a.Value:P1}"));
    }

    [Fact]
    public void Detect_NoisyRenders_RecoversEveryAttribute()
    {
        var accuracy = Accuracy(new SceneSampler(102).Next(SceneCount), Distortion.Noise);

        Assert.All(accuracy, a => Assert.True(a.Value >= 0.95, $"{a.Key}: {a.Value:P1}"));
    }

    [Fact]
    public void Detect_BlurredRenders_RecoversEveryAttribute()
    {
        var accuracy = Accuracy(new SceneSampler(103).Next(SceneCount), Distortion.Blur);

        Assert.All(accuracy, a => Assert.True(a.Value >= 0.95, $"{a.Key}: {a.Value:P1}"));
    }

    [Fact]
    public void Detect_TwoObjectScenes_FindsBothObjects()
    {
        var scenes = new SceneSampler(104, secondObjectProbability: 1).Next(100);

        int exact = scenes.Count(s => DetectionMatch.Compare(s, SceneDetector.Detect(SceneRenderer.Render(s))).All);

        Assert.True(exact >= 98, $"{exact}/100 scenes read back exactly");
    }

    [Fact]
    public void Detect_EmptyCanvas_FindsOnlyTheBackground()
    {
        var image = new SceneImage(32, new float[3 * 32 * 32]);

        var detection = SceneDetector.Detect(image);

        Assert.Equal(Background.Black, detection.Background);
        Assert.Empty(detection.Objects);
    }

    [Fact]
    public void Detect_EditedScene_DiffersFromTheSourceInExactlyTheEditedAttribute()
    {
        var sampler = new EditSampler(105);
        foreach (var scene in new SceneSampler(106).Next(100))
        {
            var edit = sampler.Next(scene);

            var match = DetectionMatch.Compare(scene, SceneDetector.Detect(SceneRenderer.Render(scene.Apply(edit))));

            foreach (var attribute in Enum.GetValues<SceneAttribute>())
                Assert.Equal(attribute != edit.Attribute, match[attribute]);
        }
    }

    [Fact]
    public void Detect_AcceptsChannelFirstFloats()
    {
        var scene = new SceneSampler(107).Next();

        var detection = SceneDetector.Detect(SceneRenderer.Render(scene).Chw, 32);

        Assert.True(DetectionMatch.Compare(scene, detection).All);
    }

    enum Distortion { None, Noise, Blur }

    // Per-attribute accuracy of the primary object (and the background) over the scenes.
    Dictionary<SceneAttribute, double> Accuracy(IReadOnlyList<Scene> scenes, Distortion distortion)
    {
        var noise = new WorldRandom(999);
        var correct = Enum.GetValues<SceneAttribute>().ToDictionary(a => a, _ => 0);
        foreach (var scene in scenes)
        {
            var image = SceneRenderer.Render(scene);
            if (distortion == Distortion.Noise)
                AddNoise(image, sigma: 0.03, noise);
            if (distortion == Distortion.Blur)
                image = Blur(image);
            var match = DetectionMatch.Compare(scene, SceneDetector.Detect(image));
            foreach (var attribute in correct.Keys)
                if (match[attribute])
                    correct[attribute]++;
        }
        var accuracy = correct.ToDictionary(kv => kv.Key, kv => kv.Value / (double)scenes.Count);
        output.WriteLine($"{distortion}, {scenes.Count} scenes: " + string.Join(", ", accuracy.Select(a => $"{a.Key} {a.Value:P1}")));
        return accuracy;
    }

    static void AddNoise(SceneImage image, double sigma, WorldRandom rng)
    {
        for (int i = 0; i < image.Chw.Length; i++)
            image.Chw[i] = Math.Clamp(image.Chw[i] + (float)(sigma * rng.NextGaussian()), 0f, 1f);
    }

    // A Gaussian blur of σ = 0.6 px (5×5 kernel), edge pixels clamped: a stand-in for a generator's softness.
    static SceneImage Blur(SceneImage image)
    {
        int n = image.Size;
        var kernel = Enumerable.Range(-2, 5).Select(d => Math.Exp(-d * d / (2 * 0.6 * 0.6))).ToArray();
        double total = kernel.Sum();
        var result = new float[image.Chw.Length];
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < n; y++)
                for (int x = 0; x < n; x++)
                {
                    double sum = 0;
                    for (int dy = -2; dy <= 2; dy++)
                        for (int dx = -2; dx <= 2; dx++)
                        {
                            int xx = Math.Clamp(x + dx, 0, n - 1), yy = Math.Clamp(y + dy, 0, n - 1);
                            sum += kernel[dx + 2] * kernel[dy + 2] * image.Chw[c * n * n + yy * n + xx];
                        }
                    result[c * n * n + y * n + x] = (float)(sum / (total * total));
                }
        return new SceneImage(n, result);
    }
}
