using Imagic.Imaging;
using Microsoft.Playwright;

namespace Imagic.Tests.Studio;

/// <summary>
/// The studio page in a real browser: Debian's Chromium driven by Playwright (which cannot download a browser
/// here; <c>.ci/run</c> installs the <c>chromium</c> package when it is missing).
/// </summary>
public class StudioBrowserTests
{
    const string Chromium = "/usr/bin/chromium";

    /// <summary>Where the screenshot of the run is saved (test results are not committed).</summary>
    static string ArtifactsDir => Path.Combine(TestPaths.RepoRoot, "tests", "Imagic.Tests", "TestResults", "artifacts");

    [Fact]
    public async Task Page_UploadTrainSlideEtaAndToggleTheMask_ShowsTheApiSampleForThatEtaAndMask()
    {
        Assert.True(File.Exists(Chromium), $"{Chromium} is missing: install Debian's chromium package (apt-get install -y chromium); .ci/run does.");
        await using var studio = await StudioTestHost.StartAsync(modelDir: StudioTestHost.FastBundledModelDir, kestrel: true);
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new() { ExecutablePath = Chromium, Args = new[] { "--no-sandbox" } });
        var page = await browser.NewPageAsync(new() { ViewportSize = new() { Width = 1280, Height = 900 } });
        var consoleErrors = new List<string>();
        page.Console += (_, message) => { if (message.Type == "error") consoleErrors.Add(message.Text); };
        page.PageError += (_, error) => consoleErrors.Add(error);

        // Given the page, a sample photo uploaded, a prompt and a few training steps
        await page.GotoAsync(studio.Client.BaseAddress!.ToString());
        await page.SetInputFilesAsync("#file", Path.Combine(TestPaths.RepoRoot, "samples", "red-circle.png"));
        await page.FillAsync("#prompt", "a large blue circle in the center on a grey background");
        await page.ClickAsync(".advanced summary");
        await page.FillAsync("#steps-a", "10");
        await page.FillAsync("#steps-b", "5");

        // When it is started and trained, the first sample is shown at the run's η (1.00, the bundled model's), without the mask
        await page.ClickAsync("#start");
        await page.WaitForSelectorAsync("#status.ready", new() { Timeout = 180_000 });
        await page.WaitForFunctionAsync("() => document.getElementById('edited').dataset.eta === '1.00'", null, new() { Timeout = 120_000 });
        Assert.False(await page.IsCheckedAsync("#mask"));
        Assert.True(await page.IsHiddenAsync("#region"));
        var before = await ShownPixels(page);

        // And the slider is moved with the keyboard, ten steps of 0.05 down
        await page.FocusAsync("#eta");
        for (int i = 0; i < 10; i++) await page.Keyboard.PressAsync("ArrowLeft");
        await page.WaitForFunctionAsync("() => document.getElementById('edited').dataset.eta === '0.50'", null, new() { Timeout = 120_000 });

        // Then the shown image changed, and it is exactly the API's PNG for η = 0.50
        var after = await ShownPixels(page);
        Assert.NotEqual(before, after);
        var url = await page.GetAttributeAsync("#edited", "data-url");
        Assert.Contains("eta=0.50", url);
        Assert.Equal((await FromApi(studio, url!)).Pixels, after);
        Assert.Equal("0.50", await page.TextContentAsync("#eta-value"));

        // When the mask is turned on
        await page.CheckAsync("#mask");
        await page.WaitForFunctionAsync("() => document.getElementById('edited').dataset.mask === 'auto'", null, new() { Timeout = 120_000 });
        await page.WaitForFunctionAsync("() => { const r = document.getElementById('region'); return !r.hidden && r.complete && r.naturalWidth > 0; }",
            null, new() { Timeout = 120_000 });

        // Then the same η is shown composited with the run's edit region (the API's mask=auto PNG), and the region lies over the input
        var masked = await ShownPixels(page);
        var maskedUrl = await page.GetAttributeAsync("#edited", "data-url");
        Assert.Contains("eta=0.50", maskedUrl);
        Assert.Contains("mask=auto", maskedUrl);
        Assert.Equal((await FromApi(studio, maskedUrl!)).Pixels, masked);
        Assert.NotEqual(after, masked);
        Assert.Contains("mask", await page.TextContentAsync("#edited-caption"));
        Assert.Contains("dimmed", await page.TextContentAsync("#input-caption"));
        Directory.CreateDirectory(ArtifactsDir);
        await page.ScreenshotAsync(new() { Path = Path.Combine(ArtifactsDir, "studio.png"), FullPage = true });

        // And turned off again, the sample without it is back and the region is gone
        await page.UncheckAsync("#mask");
        await page.WaitForFunctionAsync("() => document.getElementById('edited').dataset.mask === 'none'", null, new() { Timeout = 120_000 });
        Assert.Equal(after, await ShownPixels(page));
        Assert.True(await page.IsHiddenAsync("#region"));

        // When a run made with mask=auto (through the API, with no training steps) is opened by its link
        var posted = await studio.PostEditAsync(stepsA: 0, stepsB: 0, image: await File.ReadAllBytesAsync(Path.Combine(TestPaths.RepoRoot, "samples", "red-circle.png")),
            change: f => f.Add(new StringContent("auto"), "mask"));
        string maskedRun = (await StudioTestHost.Json(posted)).GetProperty("id").GetString()!;
        await studio.WaitForStatusAsync(maskedRun, "ready", "failed");
        await page.GotoAsync($"{studio.Client.BaseAddress}#run={maskedRun}");

        // Then the control shows it on, and its first sample is shown with the mask, the region over the input
        await page.WaitForFunctionAsync("() => document.getElementById('edited').dataset.mask === 'auto'", null, new() { Timeout = 120_000 });
        Assert.True(await page.IsCheckedAsync("#mask"));
        await page.WaitForSelectorAsync("#region", new() { State = WaitForSelectorState.Visible, Timeout = 120_000 });
        Assert.Empty(consoleErrors);
    }

    static async Task<RgbImage> FromApi(StudioTestHost studio, string url)
    {
        var png = Path.Combine(TestPaths.NewTempDir("imagic-studio-browser"), "api.png");
        await File.WriteAllBytesAsync(png, await studio.Client.GetByteArrayAsync(url));
        return ImageIO.Load(png);
    }

    /// <summary>The RGB bytes of the edited image as the page shows it, read back through a canvas.</summary>
    static async Task<byte[]> ShownPixels(IPage page)
    {
        var values = await page.EvaluateAsync<int[]>("""
            () => {
              const img = document.getElementById('edited');
              const canvas = document.createElement('canvas');
              canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
              const g = canvas.getContext('2d');
              g.drawImage(img, 0, 0);
              const rgba = g.getImageData(0, 0, canvas.width, canvas.height).data;
              const rgb = [];
              for (let i = 0; i < rgba.length; i += 4) rgb.push(rgba[i], rgba[i + 1], rgba[i + 2]);
              return rgb;
            }
            """);
        return values.Select(v => (byte)v).ToArray();
    }
}
