"""A crisis shift in the console, in headless Chromium (Selenium): an operator composes a
kk/ru green corridor from a registered meeting point and watches the SMS size change as she
types, is refused approving her own large advisory, composes an exercise (refused on a live
channel, saved on the exercise one); an approver sends both; the exercise banner shows;
a citizen answers a check-in link on a phone; the operator takes the case and resolves it.

Usage: console_crisis.py BASE OPERATOR PASSWORD APPROVER PASSWORD CHECKIN_URL SHOTS [--no-js]
Prints one JSON object of what it saw; exits non-zero on the first step that cannot be done.
"""
import json
import os
import sys
import time

os.environ.setdefault("SE_OFFLINE", "true")

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import Select, WebDriverWait

from console_flow import browser, replaced, submit


def texts(driver, selector):
    for _ in range(20):
        try:
            return [element.text for element in driver.find_elements(By.CSS_SELECTOR, selector)]
        except WebDriverException:
            time.sleep(0.1)
    return []


def fill(driver, name, value):
    field = driver.find_element(By.NAME, name)
    field.clear()
    field.send_keys(value)


def sign_in(driver, base, name, password):
    driver.get(base + "/console/login")
    driver.find_element(By.ID, "name").send_keys(name)
    driver.find_element(By.ID, "password").send_keys(password)
    submit(driver, "form[action='/console/login'] button[type=submit]")
    assert driver.current_url.endswith("/console/"), driver.current_url


def sign_out(driver):
    submit(driver, "form[action='/console/logout'] button")


def english_sms(driver):
    """The English SMS cell of the compose preview: its encoding, parts and marked character."""
    cell = "#preview tr[data-channel='sms'] td[data-language='en']"
    return {
        "encoding": (texts(driver, cell + " .encoding") or [""])[0],
        "segments": (texts(driver, cell + " .segments") or [""])[0],
        "units": (texts(driver, cell + " .units") or [""])[0],
        "ucs2": texts(driver, cell + " mark.ucs2"),
        "text": (texts(driver, cell + " .text") or [""])[0],
    }


def main():
    base, operator, operator_password, approver, approver_password, checkin_url, shots = sys.argv[1:8]
    javascript = "--no-js" not in sys.argv
    suffix = "" if javascript else "-nojs"
    seen = {"javascript": javascript}
    driver = browser(javascript, 1280, 1000)
    try:
        # 1. The operator composes a green corridor from the registered meeting point.
        sign_in(driver, base, operator, operator_password)
        driver.get(base + "/console/compose")
        Select(driver.find_element(By.NAME, "meetingPointId")).select_by_index(1)
        fill(driver, "countries", "IR")
        for name, values in {
            "route": ("Тегеран — Астара", "Тегеран — Астара", "Tehran - Astara"),
            "borderCrossing": ("Астара", "Астара", "Astara"),
        }.items():
            for tag, value in zip(("kk", "ru", "en"), values):
                fill(driver, f"{name}.{tag}", value)
        fill(driver, "opensAt", "2030-03-12 04:30")
        fill(driver, "closesAt", "2030-03-12 14:30")
        fill(driver, "timeZone", "Asia/Tehran")
        fill(driver, "contactPhone", "+982122565933")
        fill(driver, "expiresAt", "2030-03-13 00:00")
        if javascript:
            WebDriverWait(driver, 15).until(lambda d: english_sms(d)["encoding"] == "GSM-7")
        else:
            submit(driver, "button[name=action][value=preview]")
        seen["before"] = english_sms(driver)
        seen["radius"] = (texts(driver, "#preview .radius .total") or [""])[0]
        seen["kazakhText"] = (texts(driver, "#preview tr[data-channel='sms'] td[data-language='kk'] .text") or [""])[0]
        # An en dash typed into the English route: GSM-7 has none, the SMS becomes UCS-2.
        field = driver.find_element(By.NAME, "route.en")
        field.clear()
        field.send_keys("Tehran – Astara")
        if javascript:
            seen["sameLoad"] = driver.execute_script("window.habarSameLoad = true; return true")
            # The preview follows the typing: wait for the one of the whole route (an earlier
            # one may show the field half typed or empty).
            WebDriverWait(driver, 15).until(lambda d: "Tehran – Astara" in english_sms(d)["text"])
            seen["sameLoad"] = driver.execute_script("return window.habarSameLoad === true")
        else:
            submit(driver, "button[name=action][value=preview]")
        seen["after"] = english_sms(driver)
        driver.save_screenshot(os.path.join(shots, f"console-compose{suffix}.png"))
        submit(driver, "button[name=action][value=save]")
        seen["savedAt"] = driver.current_url
        seen["savedNotice"] = (texts(driver, "p.notice") or [""])[0]
        live_page = driver.current_url.split("?")[0]
        # 2. Her own advisory for three people, above the threshold of two: refused.
        seen["warning"] = (texts(driver, "p.warning") or [""])[0]
        submit(driver, "button.approve")
        seen["ownApproval"] = (texts(driver, "p.error") or [""])[0]
        driver.save_screenshot(os.path.join(shots, f"console-two-person{suffix}.png"))
        # 3. An exercise: refused on the live channel beside the channels, saved on the stub.
        driver.get(base + "/console/compose")
        Select(driver.find_element(By.NAME, "kind")).select_by_value("general")
        if not javascript:
            submit(driver, "button[name=action][value=preview]")
        else:
            WebDriverWait(driver, 15).until(lambda d: d.find_elements(By.NAME, "text.ru"))
        driver.find_element(By.CSS_SELECTOR, "input[name=status][value=exercise]").click()
        fill(driver, "countries", "IR")
        for tag, value in (("kk", "Байланысты тексеру"), ("ru", "Проверка связи"), ("en", "Communications check")):
            fill(driver, f"text.{tag}", value)
        fill(driver, "contactPhone", "+77172000000")
        for box in driver.find_elements(By.CSS_SELECTOR, "input[type=checkbox][name^='channel.']"):
            wanted = box.get_attribute("name") == "channel.sms-live"
            if box.is_selected() != wanted:
                box.click()
        submit(driver, "button[name=action][value=save]")
        seen["liveChannelError"] = texts(driver, ".field-error")
        for box in driver.find_elements(By.CSS_SELECTOR, "input[type=checkbox][name^='channel.']"):
            wanted = box.get_attribute("name") == "channel.sms"
            if box.is_selected() != wanted:
                box.click()
        submit(driver, "button[name=action][value=save]")
        exercise_page = driver.current_url.split("?")[0]
        seen["exerciseSaved"] = "/console/advisories/" in exercise_page
        seen["exerciseTexts"] = texts(driver, "tr.sms .text")
        sign_out(driver)
        # 4. The approver sends both.
        sign_in(driver, base, approver, approver_password)
        for page in (live_page, exercise_page):
            driver.get(page)
            submit(driver, "button.approve")
            seen.setdefault("approved", []).append((texts(driver, "p.notice") or [""])[0])
        driver.get(base + "/console/")
        seen["banner"] = (texts(driver, ".exercise-banner") or [""])[0]
        driver.save_screenshot(os.path.join(shots, f"console-exercise{suffix}.png"))
        # A 768 px tablet in portrait: the dashboard, an advisory and compose fit its width.
        driver.set_window_size(768, 1024)
        widths = {}
        for name, page in (("dashboard", base + "/console/"), ("advisory", live_page), ("compose", base + "/console/compose")):
            driver.get(page)
            if javascript:
                widths[name] = driver.execute_script("return document.documentElement.scrollWidth")
            if name == "dashboard":
                driver.save_screenshot(os.path.join(shots, f"console-dashboard-tablet{suffix}.png"))
        seen["tabletWidths"] = widths
        driver.set_window_size(1280, 1000)
        sign_out(driver)
        # 5. A citizen answers the check-in link on a phone.
        driver.set_window_size(375, 740)
        driver.get(checkin_url)
        seen["checkinLanguage"] = driver.find_element(By.TAG_NAME, "html").get_attribute("lang")
        seen["phoneScrollWidth"] = driver.execute_script("return document.documentElement.scrollWidth") if javascript else None
        note = driver.find_elements(By.NAME, "note")
        if note:
            note[0].send_keys("Біз үшеуміз, су жоқ")
        driver.save_screenshot(os.path.join(shots, f"checkin-phone{suffix}.png"))
        page = driver.find_element(By.TAG_NAME, "html")
        driver.find_element(By.CSS_SELECTOR, "button[value=need_help]").click()
        WebDriverWait(driver, 15).until(replaced(page))
        seen["checkinAnswer"] = driver.find_element(By.TAG_NAME, "body").text
        driver.save_screenshot(os.path.join(shots, f"checkin-answered{suffix}.png"))
        # 6. The operator finds the case in the hotline queue, takes it and resolves it.
        driver.set_window_size(1280, 1000)
        sign_in(driver, base, operator, operator_password)
        driver.get(base + "/console/cases")
        seen["cases"] = texts(driver, "article.case h2")
        seen["caseEntries"] = texts(driver, "article.case .entries .entry")
        driver.save_screenshot(os.path.join(shots, f"console-cases{suffix}.png"))
        submit(driver, "article.case button[name=action][value=assign]")
        seen["assignee"] = texts(driver, "article.case .assignee")
        driver.find_element(By.CSS_SELECTOR, "article.case textarea[name=note]").send_keys("Позвонили, группу встретят у посольства")
        submit(driver, "article.case button[name=action][value=note]")
        submit(driver, "article.case button[name=action][value=resolve]")
        seen["afterResolve"] = texts(driver, "article.case h2")
        seen["resolvedNotice"] = (texts(driver, "p.notice") or [""])[0]
        driver.get(base + "/console/citizens")
        driver.save_screenshot(os.path.join(shots, f"console-citizens{suffix}.png"))
    finally:
        driver.quit()
    print(json.dumps(seen, ensure_ascii=False))


if __name__ == "__main__":
    main()
